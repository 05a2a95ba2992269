import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { Page } from "playwright-core";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");

export interface SsoPerson {
  email: string;
  name: string;
  role: "student" | "teacher" | "admin";
}

/** A person nobody has seen before, so tests never depend on each other's data. */
export function newPerson(role: SsoPerson["role"], name: string): SsoPerson {
  return { email: `e2e-${role}-${crypto.randomUUID().slice(0, 8)}@example.test`, name, role };
}

/**
 * A one-time sign-in link, made the way the insp site makes them (`npm run sso-token`: an HS256 JWT signed with
 * the INSP_SSO_SECRET from .dev.vars), that lands on `next` after sign-in.
 */
export async function ssoLink(baseUrl: string, person: SsoPerson, next = "/"): Promise<string> {
  const { stdout } = await run(
    "npx",
    ["tsx", "scripts/sso-token.ts", "--email", person.email, "--role", person.role, "--name", person.name, "--url", baseUrl, "--next", next],
    {
      cwd: repoRoot,
    },
  );
  const line = stdout.split("\n").find((text) => text.startsWith(`${baseUrl}/sso?`));
  if (!line) throw new Error(`npm run sso-token printed no sign-in link:\n${stdout}`);
  return line.trim();
}

/** Signs `person` in through SSO in `page` and waits until the app shows `next`. */
export async function signInWithSso(page: Page, baseUrl: string, person: SsoPerson, next = "/"): Promise<void> {
  await page.goto(await ssoLink(baseUrl, person, next));
  await page.waitForURL((url) => url.pathname === next);
}
