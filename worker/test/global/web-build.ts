import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../../..");

/**
 * The Worker serves the built app (web/dist) through its assets binding, and the security-header tests read that
 * page as a browser would. A fresh checkout has no build yet, so one is made; an existing one is used as it is
 * (`npm start` and the e2e suite rebuild it anyway).
 */
export default function setup(): void {
  if (existsSync(path.join(repoRoot, "web/dist/index.html"))) return;
  execFileSync("npx", ["vite", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"], { cwd: repoRoot, stdio: "inherit" });
}
