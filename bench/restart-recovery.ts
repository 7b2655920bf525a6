// Time from an app's failure to its recovery by the restart policy, on a real uWSGI Emperor: a
// WSGI app wedged by a "poison" file (its worker answers 500 until restarted), `serve` with
// [restart] policy = "on-failure" and the restart settings at their defaults (2 failures in a row,
// backoff_initial 10 s) but two, so that each of ten wedgings within minutes is a first crash:
// max_restarts = 100 (not given up on) and backoff_max = 10s (no backoff grown by the run before;
// with the default 5 min, crashes that close together wait 20, 40, 80 s: flapping is slowed on
// purpose). A check cycle every INTERVAL seconds (10 by default; the app declares
// interval = 5, retries = 1 in its manifest). Median and spread of RUNS (10) wedgings, each timed
// from the poison to the first HTTP 200 again.
//
//   npm run build && node dist/bench/restart-recovery.js        (RUNS=10, INTERVAL=10: about 4 minutes)

import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeRoot } from "./lib/hop3-root.js";
import { pause } from "./lib/measure.js";
import { freePort } from "./lib/net.js";
import { summarise } from "./lib/stats.js";
import { unitEnvironment } from "./lib/unit.js";

const RUNS = Number(process.env.RUNS ?? 10);
const INTERVAL = Number(process.env.INTERVAL ?? 10);
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));
if (spawnSync("uwsgi", ["--version"]).status !== 0) throw new Error("uwsgi is needed: apt-get install uwsgi uwsgi-plugin-python3");

const { root, etc } = makeRoot("restart");
const app = "wedgy";
const dir = path.join(root, "apps", app);
const port = await freePort();
for (const sub of ["src/hop3", "data", "log", "venv"]) mkdirSync(path.join(dir, sub), { recursive: true });
writeFileSync(
  path.join(dir, "src", "app.py"),
  `import os
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
poisoned = False
def application(environ, start_response):
    global poisoned
    if os.path.exists(os.path.join(DATA, "poison")):
        poisoned = True
        os.remove(os.path.join(DATA, "poison"))
    start_response("500 Internal Server Error" if poisoned else "200 OK", [("Content-Type", "text/plain")])
    return [b"wedged" if poisoned else b"ok"]
`,
);
writeFileSync(path.join(dir, "src", "hop3", "hop3.toml"), '[healthcheck]\npath = "/health"\ninterval = 5\nretries = 1\n');
writeFileSync(path.join(dir, "venv", "LIVE_ENV"), `APP=${app}\nBIND_ADDRESS=127.0.0.1\nPORT=${port}\n`);
writeFileSync(
  path.join(root, "uwsgi-enabled", `${app}_wsgi.1.ini`),
  `[uwsgi]\nchdir = ${dir}/src\nhttp-socket = 127.0.0.1:${port}\nlogto2 = ${dir}/log/wsgi.1.log\nmaster = true\nmodule = app:application\nplugin = python3\nprocname-prefix = ${app}:wsgi:\nprocesses = 1\n`,
);
const log = openSync(path.join(root, "emperor.log"), "a");
const emperor = spawn("uwsgi", ["--emperor", path.join(root, "uwsgi-enabled")], { stdio: ["ignore", log, log], cwd: root });
closeSync(log);
const listen = await freePort();
const config = path.join(root, "hop3-health.toml");
writeFileSync(config, `hop3_root = "${root}"\nstate_dir = "${root}.state"\nhop3_etc_dir = "${etc}"\nlisten = "127.0.0.1:${listen}"\ninterval = ${INTERVAL}\nlog_level = "warn"\n[restart]\npolicy = "on-failure"\nmax_restarts = 100\nbackoff_max = "10s"\n`);
const exporter = spawn(process.execPath, [CLI, "--config", config, "serve"], { env: { ...process.env, ...unitEnvironment().env }, stdio: "ignore" });
process.on("exit", () => {
  exporter.kill("SIGKILL");
  emperor.kill("SIGINT");
});

const status = async (): Promise<number | undefined> => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status;
const until = async (ok: () => Promise<boolean>, ms: number): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await pause(100);
  }
};
await until(async () => (await status()) === 200, 30_000);
await until(async () => (await fetch(`http://127.0.0.1:${listen}/-/ready`).catch(() => undefined))?.ok === true, 30_000);
console.log(`node ${process.version}; uWSGI ${spawnSync("uwsgi", ["--version"]).stdout.toString().trim()}; serve with a cycle every ${INTERVAL} s, [restart] policy = "on-failure", max_restarts = 100, backoff_max = "10s", defaults otherwise`);

const samples: number[] = [];
for (let run = 1; run <= RUNS; run++) {
  // A random point in the cycle, as a real failure would fall.
  await pause(Math.random() * INTERVAL * 1000);
  const started = Date.now();
  writeFileSync(path.join(dir, "data", "poison"), "");
  await until(async () => (await status()) === 500, 10_000);
  await until(async () => (await status()) === 200, 120_000);
  const seconds = (Date.now() - started) / 1000;
  samples.push(seconds);
  console.log(`run ${String(run).padStart(2)}: wedged → answering again in ${seconds.toFixed(1)} s`);
}
const s = summarise(samples);
console.log(`\nwedged → recovered by policy: median ${s.median.toFixed(1)} s, max ${Math.max(...samples).toFixed(1)} s over ${RUNS} runs (backoff_initial 10 s + cycles of ${INTERVAL} s)`);
process.exit(0);
