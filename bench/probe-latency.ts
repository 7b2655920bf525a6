// 1. How long after an app starts answering does the deploy probe report success? Median and
//    p99 over many runs with random start-up times, beside Hop3's own fixed half-second polling
//    (the reference), measured in the same harness.
// 2. Continuous checks of 500 local apps: cycle time and CPU per cycle.
//
//   npm run build && node dist/bench/probe-latency.js     (RUNS=100 APPS=500 by default)

import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createEngine } from "../src/engine/engine.js";
import { probeOnce, runProbe, type HttpTarget } from "../src/probe/probe.js";
import { freePort } from "./lib/net.js";
import { ms, summarise } from "./lib/stats.js";

const RUNS = Number(process.env.RUNS ?? 100);
const APPS = Number(process.env.APPS ?? 500);


/** Hop3's way: try, then sleep half a second, until it answers or the window closes. */
async function fixedHalfSecond(target: HttpTarget, windowSeconds: number): Promise<boolean> {
  const deadline = performance.now() + windowSeconds * 1000;
  while (performance.now() < deadline) {
    if ((await probeOnce(target, { timeoutMs: 1000, expect: { accept: [[200, 399]] } })).ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

/** Starts listening after `delayMs`; resolves with the lag between listening and the probe's success. */
async function lagOnce(probe: (target: HttpTarget) => Promise<boolean>, delayMs: number): Promise<number> {
  const port = await freePort();
  const server = http.createServer((_req, res) => res.end("ok"));
  let listeningAt = 0;
  const timer = setTimeout(() => {
    server.listen(port, "127.0.0.1", () => {
      listeningAt = performance.now();
    });
  }, delayMs);
  const ok = await probe({ protocol: "http:", host: "127.0.0.1", port, path: "/health", hostHeader: "localhost" });
  const doneAt = performance.now();
  clearTimeout(timer);
  server.close();
  if (!ok || listeningAt === 0) throw new Error("the probe did not succeed");
  return doneAt - listeningAt;
}

console.log(`node ${process.version}; ${RUNS} runs, app start-up times uniform in 0..2 s`);
const ours: number[] = [];
const reference: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const delay = Math.random() * 2000;
  ours.push(await lagOnce(async (http) => (await runProbe({ app: "bench", http, expect: { accept: [[200, 399]] }, requestTimeout: 1, window: 10 })).result === "success", delay));
  reference.push(await lagOnce((http) => fixedHalfSecond(http, 10), delay));
}
const a = summarise(ours);
const b = summarise(reference);
console.log("time from the app's first answer to the probe's success:");
console.log(`  hop3-health (10 ms while refused, else backoff) median ${ms(a.median).padStart(10)}   p99 ${ms(a.p99).padStart(10)}`);
console.log(`  Hop3's fixed 500 ms polling (reference)         median ${ms(b.median).padStart(10)}   p99 ${ms(b.p99).padStart(10)}`);

// 500 apps, served by a child process so that its CPU is not counted as ours.
const root = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-apps-"));
const serverScript = path.join(root, "apps-server.mjs");
writeFileSync(
  serverScript,
  `import http from "node:http";
const count = Number(process.env.APPS);
const ports = [];
for (let i = 0; i < count; i++) {
  const server = http.createServer((req, res) => res.end("ok ready"));
  server.listen(0, "127.0.0.1", () => { ports.push(server.address().port); if (ports.length === count) process.send(ports); });
}
`,
);
const child = fork(serverScript, [], { env: { APPS: String(APPS) }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
const ports = await new Promise<number[]>((resolve) => child.once("message", (message) => resolve(message as number[])));
// No vassals (no uWSGI here): each app is watched over HTTP at the port its [apps.<name>] table gives.
const appTables: string[] = [];
for (let i = 0; i < APPS; i++) {
  const dir = path.join(root, "apps", `app${i}`, "src");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "hop3.toml"), '[healthcheck]\npath = "/health"\ncontains = "ready"\ninterval = 1\n');
  appTables.push(`[apps.app${i}]\nport = ${ports[i]}\n`);
}
writeFileSync(path.join(root, "c.toml"), `hop3_root = "${root}"\nstate_dir = "${root}.state"\n${appTables.join("")}`);
const engine = await createEngine({ file: path.join(root, "c.toml"), env: {}, logLevel: "silent" });
const cycleMs: number[] = [];
const cpuMs: number[] = [];
for (let i = 0; i < 12; i++) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const cycle = await engine.runCycle();
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const failing = cycle.outcomes.filter((o) => o.check.startsWith("app:") && o.severity !== "ok").length;
  if (failing > 0) throw new Error(`${failing} apps not ok`);
  if (i >= 2) {
    cycleMs.push(elapsed);
    cpuMs.push((used.user + used.system) / 1000);
  }
  // Past each app's 1 s interval, so every cycle probes all of them.
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
const c = summarise(cycleMs);
const d = summarise(cpuMs);
console.log(`continuous checks of ${APPS} local apps (default settings), ${cycleMs.length} cycles:`);
console.log(`  cycle time median ${ms(c.median)}, p99 ${ms(c.p99)}; CPU per cycle median ${ms(d.median)} (${(d.median / APPS).toFixed(3)} ms an app)`);
child.kill();
process.exit(0);
