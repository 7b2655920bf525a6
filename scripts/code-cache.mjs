// Makes dist/bin/program.cjs.cache (src/bin/program.ts): runs `hop3-health status` once, in a
// process of its own, on a made-up Hop3 server (one app deployed and answering its health check,
// one deployed and stopped), then writes V8's code cache of everything that run compiled. Then
// checks that the command takes it.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Writes `${program}.cache`: what the build calls. */
export async function makeCodeCache(program) {
  const root = mkdtempSync(path.join(os.tmpdir(), "hop3-health-build-"));
  // The running app's "uWSGI worker": an HTTP server whose command line starts with the procname prefix.
  const worker = spawn(process.execPath, ["-e", 'const s = require("http").createServer((q, r) => r.end("ok")).listen(0, "127.0.0.1", () => process.send(s.address().port))'], { argv0: "blog:wsgi:uWSGI worker 1", stdio: ["ignore", "ignore", "inherit", "ipc"] });
  try {
    const [port] = await once(worker, "message");
    worker.disconnect();
    const etc = path.join(root, "etc-hop3");
    mkdirSync(etc, { recursive: true });
    writeFileSync(path.join(root, "hop3-server.toml"), `HOP3_USER = "${os.userInfo().username}"\n`);
    writeFileSync(path.join(etc, "secret-key"), "build-secret-key-0123456789abcdef\n", { mode: 0o600 });
    for (const dir of ["nginx", "uwsgi-available", "uwsgi-enabled", "state"]) mkdirSync(path.join(root, dir));
    for (const [app, appPort] of [["blog", port], ["shop", 9]]) {
      for (const dir of ["src/hop3", "venv"]) mkdirSync(path.join(root, "apps", app, dir), { recursive: true });
      writeFileSync(path.join(root, "apps", app, "src/hop3/hop3.toml"), '[healthcheck]\npath = "/health"\n');
      writeFileSync(path.join(root, "apps", app, "venv/LIVE_ENV"), `BIND_ADDRESS=127.0.0.1\nPORT=${appPort}\n`);
      writeFileSync(path.join(root, "uwsgi-enabled", `${app}_wsgi.1.ini`), `[uwsgi]\nprocname-prefix = ${app}:wsgi:\n`);
    }
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
