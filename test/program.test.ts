// The command as it ships (src/bin/program.ts): the program as one script, and V8's code cache the
// build made of it, which only makes it start sooner: refused or missing, the program runs the same.

import { execFile } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { CLI, itemsOf, makeHop3Root, REPO, tempDir, type JsonReport } from "./helpers/cli.js";

const run = promisify(execFile);

/** The severity of each check in a `status --json` from this command file. */
async function severities(command: string, configFile: string): Promise<Record<string, string>> {
  // A report that is not all OK exits 1 or 2: its JSON is the same.
  const { stdout } = await run(process.execPath, [command, "--config", configFile, "status", "--json"]).catch((error: unknown) => error as { stdout: string });
  return Object.fromEntries(Object.entries(itemsOf(JSON.parse(stdout) as JsonReport)).map(([id, item]) => [id, item.severity]));
}

describe("the shipped command", () => {
  it("takes the code cache the build made for it", async () => {
    const program = path.join(REPO, "dist/bin/program.cjs");
    const loader = path.join(REPO, "dist/src/bin/program.js");
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", `import { loadProgram } from ${JSON.stringify(loader)}; console.log(loadProgram(${JSON.stringify(program)}).cacheRejected ? "refused" : "taken")`]);
    expect(stdout.trim()).toBe("taken");
  });

  it("reports the same without its cache, or with a cache V8 refuses", async () => {
    const { configFile } = await makeHop3Root();
    const shipped = await severities(CLI, configFile);
    expect(Object.keys(shipped)).toEqual(expect.arrayContaining(["hop3-root", "disk-usage", "server-config"]));

    const bin = tempDir();
    for (const file of ["hop3-health.cjs", "program.cjs"]) copyFileSync(path.join(REPO, "dist/bin", file), path.join(bin, file));
    expect(await severities(path.join(bin, "hop3-health.cjs"), configFile)).toEqual(shipped);
    writeFileSync(path.join(bin, "program.cjs.cache"), Buffer.alloc(4096, 7));
    expect(await severities(path.join(bin, "hop3-health.cjs"), configFile)).toEqual(shipped);
  });
});
