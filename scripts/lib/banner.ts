/**
 * Prints what `npm start` offers once the Worker answers: the URL, the demo sign-ins and a ready-made SSO link
 * (what the insp site would send a signed-in student to).   Usage: tsx scripts/lib/banner.ts <url>
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { DEMO_PASSWORD, DEMO_USERS } from "./demo-data";

const url = process.argv[2];
if (!url) {
  console.error("usage: tsx scripts/lib/banner.ts <url>");
  process.exit(2);
}

const student = DEMO_USERS.find((user) => user.role === "student")!;
const ssoLink = execFileSync(
  "npx",
  ["tsx", "scripts/sso-token.ts", "--email", student.email, "--role", "student", "--name", student.displayName, "--url", url],
  { cwd: path.resolve(import.meta.dirname, "../.."), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
).trim();

const width = Math.max(...DEMO_USERS.map((user) => user.email.length));
console.log(
  [
    "",
    `insp-live is running at ${url}`,
    "",
    `Demo sign-ins (password "${DEMO_PASSWORD}"):`,
    ...DEMO_USERS.map((user) => `  ${user.email.padEnd(width)}  ${user.role}`),
    "",
    `Sign in as ${student.displayName} through SSO, the way the insp site sends people (the link works once, for 5 minutes):`,
    `  ${ssoLink}`,
    "More links: npm run sso-token -- --email you@example.com --role teacher --url " + url,
    "",
    "Ctrl-C stops everything.",
    "",
  ].join("\n"),
);
