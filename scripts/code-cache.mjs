// Makes dist/bin/program.cjs.cache (src/bin/program.ts): runs `hop3-health status` once, in a
// process of its own, on a made-up Hop3 server (one app deployed and answering its health check,
// one deployed and stopped), then writes V8's code cache of everything that run compiled. Then
// checks that the command takes it.

import { execFileSync, spawnSync } from "node:child_process";
import { rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
// The benchmarks' Hop3 layout (tsc has built it by now): the same server a benchmark's `status` sees.
import { layoutApp, makeRoot, startWorker } from "../dist/bench/lib/hop3-root.js";
import { freePort } from "../dist/bench/lib/net.js";

/** Writes `${program}.cache`: what the build calls. */
export async function makeCodeCache(program) {
  const { root, etc, script } = makeRoot("build");
  const port = await freePort();
  layoutApp(root, "blog", port);
  layoutApp(root, "shop", await freePort());
  const worker = await startWorker(script, "blog", port);
  try {
    const env = { PATH: process.env.PATH, LANG: "C.UTF-8", HOP3_ROOT: root, HOP3_ETC_DIR: etc, HOP3_HEALTH_STATE_DIR: path.join(root, "state") };
    const trained = spawnSync(process.execPath, [import.meta.filename, path.resolve(program), "status", "--json"], { env, encoding: "utf8" });
    // Exit 0 to 2 are reports (the app is not running: 2); 3 is a failure of the run.
    if (trained.status === null || trained.status > 2) throw new Error(`the code cache's run of status failed (exit ${trained.status}): ${trained.stderr}`);
  } finally {
    worker.kill();
    rmSync(root, { recursive: true, force: true });
  }
  const taken = execFileSync(process.execPath, ["--input-type=module", "-e", `import { loadProgram } from ${JSON.stringify(path.resolve("dist/src/bin/program.js"))}; console.log(loadProgram(${JSON.stringify(path.resolve(program))}).cacheRejected ? "rejected" : "taken")`], { encoding: "utf8" }).trim();
  if (taken !== "taken") throw new Error(`V8 refused the code cache it just made for ${program}`);
  console.log(`${program}.cache: ${(statSync(`${program}.cache`).size / 1024).toFixed(0)} KB`);
}

// The run itself, in its own process: the program with no cache, then the cache of what it compiled, at exit.
if (process.argv[1] === import.meta.filename && process.argv.length > 2) {
  const [program, ...args] = process.argv.slice(2);
  const { loadProgram } = await import(path.resolve("dist/src/bin/program.js"));
  const loaded = loadProgram(program, undefined);
  process.argv = [process.argv[0], program, ...args];
  process.on("exit", () => writeFileSync(`${program}.cache`, loaded.cache()));
  loaded.run();
}
