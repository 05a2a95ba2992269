/**
 * Sums the vitest JSON reports of `npm test` into its last line, `N passed, N failed`, and exits 1 on any failure.
 *
 *   tsx scripts/lib/test-summary.ts --results DIR [--suite NAME=EXIT_CODE]... [--check NAME=EXIT_CODE]...
 *
 * A suite counts its passed and failed tests from DIR/NAME.json. A suite that crashed — no report, an unreadable
 * one, a test file that failed to load, or a non-zero exit with no failed test to show for it — adds one failure,
 * so a broken suite can never look green. Skipped and todo tests count as failures: the project allows none.
 * A check (a typecheck) counts as one test.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

interface VitestJsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; status: string; message?: string; assertionResults: { status: string }[] }[];
}

const { values } = parseArgs({
  options: { results: { type: "string" }, suite: { type: "string", multiple: true }, check: { type: "string", multiple: true } },
});

function nameAndExitCode(argument: string): [string, number] {
  const at = argument.lastIndexOf("=");
  return [argument.slice(0, at), Number(argument.slice(at + 1))];
}

let passed = 0;
let failed = 0;
const problems: string[] = [];

for (const argument of values.check ?? []) {
  const [name, exitCode] = nameAndExitCode(argument);
  if (exitCode === 0) passed += 1;
  else {
    failed += 1;
    problems.push(`${name} failed`);
  }
}

for (const argument of values.suite ?? []) {
  const [name, exitCode] = nameAndExitCode(argument);
  let report: VitestJsonReport;
  try {
    report = JSON.parse(readFileSync(path.join(values.results ?? "test-results", `${name}.json`), "utf8")) as VitestJsonReport;
  } catch {
    failed += 1;
    problems.push(`suite ${name} produced no report (exit code ${exitCode})`);
    continue;
  }
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  const brokenFiles = report.testResults.filter((file) => file.status === "failed" && !file.assertionResults.some((test) => test.status === "failed"));
  for (const file of brokenFiles)
    problems.push(`suite ${name}: ${path.relative(process.cwd(), file.name)} failed to run${file.message ? `: ${file.message.split("\n")[0]}` : ""}`);
  failed += brokenFiles.length;
  const skipped = report.numPendingTests + report.numTodoTests;
  if (skipped > 0) {
    failed += skipped;
    problems.push(`suite ${name}: ${skipped} skipped or todo test(s) (not allowed)`);
  }
  if (exitCode !== 0 && report.numFailedTests === 0 && brokenFiles.length === 0) {
    failed += 1;
    problems.push(`suite ${name} exited with code ${exitCode} (errors outside tests; see its output)`);
  }
}

for (const problem of problems) console.log(`[insp-live] ${problem}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
