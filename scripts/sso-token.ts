/**
 * Prints a fresh insp SSO token, made the way the insp site makes them: HS256, signed with INSP_SSO_SECRET
 * (from the environment, else from .dev.vars at the repo root), iss/aud from wrangler.toml [vars], a unique
 * jti, valid for 5 minutes and usable once.
 *
 *   npm run sso-token -- --email a@b.c --role student [--name "Ada L."] [--sub insp-id] [--phone +4915…]
 *                        [--tz Europe/Paris] [--next /path] [--url http://localhost:8787] [--unverified-email]
 *
 * The token asserts `email_verified: true`, as insp does for an address it checked, unless --unverified-email:
 * only a verified address may be linked to an existing insp live account of that address.
 *
 * With --url it prints the whole sign-in link `<url>/sso?token=…&next=/` instead of the bare token.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { defaultInspId } from "./lib/insp-id";

const repoRoot = path.resolve(import.meta.dirname, "..");
const ROLES = ["student", "teacher", "admin"];

function fail(message: string): never {
  console.error(`sso-token: ${message}`);
  process.exit(2);
}

/** A `KEY = "value"` line of wrangler.toml (the [vars] section holds the issuer and audience). */
function wranglerVar(toml: string, name: string): string {
  const match = new RegExp(`^\\s*${name}\\s*=\\s*"([^"]*)"\\s*$`, "m").exec(toml);
  if (!match) fail(`${name} is not set in wrangler.toml [vars]`);
  return match[1]!;
}

/** INSP_SSO_SECRET from the environment, else from .dev.vars (`KEY=value`, optionally quoted). */
function ssoSecret(): string {
  if (process.env.INSP_SSO_SECRET) return process.env.INSP_SSO_SECRET;
  const devVarsPath = path.join(repoRoot, ".dev.vars");
  let text: string;
  try {
    text = readFileSync(devVarsPath, "utf8");
  } catch {
    fail(`INSP_SSO_SECRET is not in the environment and ${devVarsPath} cannot be read (run \`npm start\` once to create it)`);
  }
  const match = /^\s*(?:export\s+)?INSP_SSO_SECRET\s*=\s*(.*?)\s*$/m.exec(text);
  let value = match?.[1] ?? "";
  if ((value.startsWith('"') || value.startsWith("'")) && value.length >= 2 && value.endsWith(value[0]!)) value = value.slice(1, -1);
  if (!value) fail(`INSP_SSO_SECRET is missing from ${devVarsPath}`);
  return value;
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        email: { type: "string" },
        role: { type: "string", default: "student" },
        name: { type: "string" },
        sub: { type: "string" },
        phone: { type: "string" },
        tz: { type: "string" },
        next: { type: "string", default: "/" },
        url: { type: "string" },
        "unverified-email": { type: "boolean", default: false },
      },
      strict: true,
    });
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
})();

if (!values.email) fail("--email is required");
if (!ROLES.includes(values.role)) fail(`--role must be one of ${ROLES.join(", ")}`);

const toml = readFileSync(path.join(repoRoot, "wrangler.toml"), "utf8");
const issuer = wranglerVar(toml, "INSP_SSO_ISSUER");
const audience = wranglerVar(toml, "INSP_SSO_AUDIENCE");

const claims: Record<string, string | boolean> = {
  email: values.email,
  email_verified: !values["unverified-email"],
  role: values.role,
  name: values.name ?? values.email.split("@")[0]!,
};
if (values.phone) claims.phone = values.phone;
if (values.tz) claims.zoneinfo = values.tz;

const token = await new SignJWT(claims)
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setIssuer(issuer)
  .setAudience(audience)
  // The same e-mail always maps to the same insp id unless --sub says otherwise, as on the real insp site.
  .setSubject(values.sub ?? defaultInspId(values.email))
  .setJti(crypto.randomUUID())
  .setIssuedAt()
  .setExpirationTime("5m")
  .sign(new TextEncoder().encode(ssoSecret()));

if (values.url) {
  const link = new URL("/sso", values.url);
  link.searchParams.set("token", token);
  link.searchParams.set("next", values.next);
  console.log(link.toString());
} else {
  console.log(token);
}
