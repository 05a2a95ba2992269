/** Reading `.dev.vars` (the local secrets and settings of `wrangler dev`, at the repo root; gitignored). */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/** Parses dotenv lines `KEY=value`, `KEY="value"` or `KEY='value'`; comments and blank lines are skipped. */
export function parseDevVars(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) value = value.slice(1, -1);
    values.set(match[1]!, value);
  }
  return values;
}

/** The values in `<repoRoot>/.dev.vars`, or none when the file does not exist yet. */
export function readDevVars(repoRoot: string): Map<string, string> {
  const file = path.join(repoRoot, ".dev.vars");
  return existsSync(file) ? parseDevVars(readFileSync(file, "utf8")) : new Map();
}
