/**
 * Seeds the local D1 database with demo data so a newcomer can sign in and start a class at once.
 *
 *   npm run seed [-- --persist-to DIR]      (DIR: wrangler's state directory; default .wrangler/state)
 *
 * Refuses to run unless .dev.vars says LOCAL_DEV=true (scripts/dev-vars.ts, which `npm start` runs first, writes it).
 *
 * Idempotent: rows have fixed ids and are inserted with INSERT OR IGNORE, so re-seeding keeps whatever people
 * changed. The one exception is the demo occurrence "starting soon": once it is over, re-seeding moves it to
 * start 30 minutes from now again, so the demo always has a class about to begin.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { hashPassword } from "../worker/auth/password";
import { readDevVars } from "./lib/dev-vars-file";
import { defaultInspId } from "./lib/insp-id";
import { DEMO_CLASS_ID, DEMO_CLASS_TITLE, DEMO_ENROLLED_EMAILS, DEMO_PASSWORD, DEMO_TEACHER_EMAIL, DEMO_USERS } from "./lib/demo-data";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEKLY_COUNT = 8;

const repoRoot = path.resolve(import.meta.dirname, "..");
const { values: options } = parseArgs({ options: { "persist-to": { type: "string" } } });

/** A SQL string literal (the values here are ours, but quoting them properly costs nothing). */
function text(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function userIdByEmail(email: string): string {
  return `(SELECT id FROM users WHERE lower(email) = ${text(email.toLowerCase())})`;
}

async function seedSql(now: number): Promise<string> {
  const statements: string[] = [];
  for (const user of DEMO_USERS) {
    statements.push(
      `INSERT OR IGNORE INTO users (id, insp_id, email, display_name, role, password_hash, timezone, remind_by_email, remind_by_sms, calendar_secret, created_at, updated_at)
       VALUES (${text(user.id)}, ${text(defaultInspId(user.email))}, ${text(user.email)}, ${text(user.displayName)}, ${text(user.role)}, NULL, 'UTC', 1, 0, ${text(crypto.randomUUID())}, ${now}, ${now});`,
      // The insp id the banner's SSO link carries (databases seeded before it was set get it too): an account with a
      // password is never linked to an insp identity by e-mail alone (README "Account linking").
      `UPDATE users SET insp_id = ${text(defaultInspId(user.email))}, updated_at = ${now}
       WHERE id = ${text(user.id)} AND insp_id IS NULL AND NOT EXISTS (SELECT 1 FROM users WHERE insp_id = ${text(defaultInspId(user.email))});`,
      // A demo account that already existed without a password (e.g. first seen through SSO) gets the demo one.
      `UPDATE users SET password_hash = ${text(await hashPassword(DEMO_PASSWORD))}, updated_at = ${now}
       WHERE lower(email) = ${text(user.email)} AND password_hash IS NULL;`,
    );
  }

  statements.push(
    `INSERT OR IGNORE INTO classes (id, title, description, teacher_id, kind, status, created_at, updated_at)
     SELECT ${text(DEMO_CLASS_ID)}, ${text(DEMO_CLASS_TITLE)},
            ${text("Stars, planets and galaxies for beginners: what we see in the night sky and why.")},
            ${userIdByEmail(DEMO_TEACHER_EMAIL)}, 'live', 'active', ${now}, ${now};`,
  );
  for (const email of DEMO_ENROLLED_EMAILS) {
    statements.push(
      `INSERT OR IGNORE INTO enrollments (class_id, user_id, enrolled_by, created_at)
       SELECT ${text(DEMO_CLASS_ID)}, ${userIdByEmail(email)}, ${userIdByEmail(DEMO_TEACHER_EMAIL)}, ${now};`,
    );
  }

  const hourStart = Math.floor(now / HOUR) * HOUR;
  const occurrence = (id: string, startsAt: number, seriesId: string | null) =>
    `INSERT OR IGNORE INTO occurrences (id, class_id, series_id, starts_at, ends_at, timezone, status, revision, created_at, updated_at)
     VALUES (${text(id)}, ${text(DEMO_CLASS_ID)}, ${seriesId ? text(seriesId) : "NULL"}, ${startsAt}, ${startsAt + HOUR}, 'UTC', 'scheduled', 0, ${now}, ${now});`;

  // Ended last week, attended by the enrolled demo students, so they can rate the class (only attendees rate).
  const lastWeek = hourStart - 7 * DAY;
  statements.push(
    occurrence("demo-occurrence-last-week", lastWeek, null),
    `INSERT OR IGNORE INTO live_sessions (id, class_id, occurrence_id, started_at, ended_at, end_reason)
     VALUES ('demo-session-last-week', ${text(DEMO_CLASS_ID)}, 'demo-occurrence-last-week', ${lastWeek}, ${lastWeek + HOUR}, 'ended-by-teacher');`,
  );
  for (const email of DEMO_ENROLLED_EMAILS) {
    statements.push(
      `INSERT OR IGNORE INTO attendance (id, session_id, user_id, joined_at, left_at, duration_ms, leave_reason)
       SELECT ${text(`demo-attendance-${email}`)}, 'demo-session-last-week', ${userIdByEmail(email)}, ${lastWeek}, ${lastWeek + HOUR}, ${HOUR}, 'ended';`,
    );
  }
  // About to start, so the demo can go live at once (joining opens 15 minutes before the start).
  const soon = Math.ceil((now + 30 * MINUTE) / MINUTE) * MINUTE;
  statements.push(
    occurrence("demo-occurrence-soon", soon, null),
    `UPDATE occurrences SET starts_at = ${soon}, ends_at = ${soon + HOUR}, status = 'scheduled', revision = revision + 1, updated_at = ${now}
     WHERE id = 'demo-occurrence-soon' AND ends_at <= ${now};`,
  );

  // A weekly series at 17:00 UTC, starting next week on today's weekday.
  const seriesId = "demo-series-weekly";
  const firstStart = Math.floor(now / DAY) * DAY + 7 * DAY + 17 * HOUR;
  const isoWeekday = ((new Date(firstStart).getUTCDay() + 6) % 7) + 1;
  statements.push(
    `INSERT OR IGNORE INTO class_series (id, class_id, frequency, interval, weekdays, first_start_local, duration_minutes, timezone, count, created_at)
     VALUES (${text(seriesId)}, ${text(DEMO_CLASS_ID)}, 'weekly', 1, ${text(JSON.stringify([isoWeekday]))},
             ${text(new Date(firstStart).toISOString().slice(0, 16))}, 60, 'UTC', ${WEEKLY_COUNT}, ${now});`,
  );
  for (let week = 0; week < WEEKLY_COUNT; week += 1) {
    statements.push(occurrence(`${seriesId}-${week + 1}`, firstStart + week * 7 * DAY, seriesId));
  }
  return statements.join("\n");
}

// Demo accounts share a published password: seed only where the Worker treats the data as local (it refuses
// demo sign-ins elsewhere too, worker/auth/local-dev.ts).
if (readDevVars(repoRoot).get("LOCAL_DEV") !== "true") {
  console.error(
    `[insp-live] not seeding: ${path.join(repoRoot, ".dev.vars")} does not say LOCAL_DEV=true (npm start writes it; demo data is for local development only)`,
  );
  process.exit(1);
}

const workDir = mkdtempSync(path.join(tmpdir(), "insp-live-seed-"));
try {
  const sqlFile = path.join(workDir, "seed.sql");
  writeFileSync(sqlFile, await seedSql(Date.now()));
  const persist = options["persist-to"] ? ["--persist-to", path.resolve(options["persist-to"])] : [];
  execFileSync("npx", ["wrangler", "d1", "execute", "DB", "--local", ...persist, "--file", sqlFile], {
    cwd: repoRoot,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
console.error(`[insp-live] seeded ${DEMO_USERS.length} demo accounts and "${DEMO_CLASS_TITLE}"`);
