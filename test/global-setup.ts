// Before any test: build what ships (the binary the end-to-end tests run), and give the run a temp folder of
// its own (TMPDIR), removed afterwards. Whatever a test or the programs it starts leave directly
// in the machine's temp folder fails the run: tests leave nothing behind.

import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): () => void {
  const repo = fileURLToPath(new URL("../", import.meta.url));
  // From clean, so that a module removed from checks/ does not linger in dist/checks/.
  rmSync(`${repo}dist`, { recursive: true, force: true });
  execFileSync(process.execPath, [`${repo}node_modules/typescript/bin/tsc`, "-p", "tsconfig.build.json"], { cwd: repo, stdio: "inherit" });
  // The zod that ships (package.json "imports" #zod), which the tests' own imports use as well.
  execFileSync(process.execPath, [`${repo}scripts/vendor.mjs`], { cwd: repo, stdio: "inherit" });
  // The program as it ships (package.json "bin"), which the end-to-end tests run.
  execFileSync(process.execPath, [`${repo}scripts/bundle.mjs`], { cwd: repo, stdio: "inherit" });

  const machineTmp = os.tmpdir();
  const before = new Set(readdirSync(machineTmp));
  const runTmp = mkdtempSync(path.join(machineTmp, "hop3-health-tests-"));
  // Traversable, as the machine's own is: tests run programs as nobody and postgres in folders below.
  chmodSync(runTmp, 0o755);
  process.env.TMPDIR = runTmp;
  return () => {
    process.env.TMPDIR = machineTmp;
    rmSync(runTmp, { recursive: true, force: true, maxRetries: 3 });
    // Every folder the tests make is named hop3-…: one in the machine's temp folder was made
    // outside this run's, and left behind.
    const left = readdirSync(machineTmp).filter((name) => !before.has(name) && name.startsWith("hop3"));
    if (left.length > 0) throw new Error(`the tests left these in ${machineTmp}: ${left.join(", ")}`);
  };
}
