// App health on a Hop3 layout:
// 1. The cost of one app scan (vassals, process table, web ports, LIVE_ENV) with APPS apps, each
//    with a vassal, a process carrying uWSGI's procname prefix and a listening port.
// 2. The time from killing an app's process to its check failing in a running exporter, at the
//    default app_scan_interval and a 30 s cycle interval: median of RUNS kills.
//
//   npm run build && node dist/bench/app-health.js      (APPS=200 RUNS=10 by default)

import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { appRuntimes, listApps } from "../src/hop3/apps.js";
import { processTable } from "../src/hop3/processes.js";
import { livenessOf } from "../src/engine/reconcile.js";
import { layoutApp, makeRoot, startWorker } from "./lib/hop3-root.js";
import { freePort } from "./lib/net.js";
import { ms, summarise } from "./lib/stats.js";

const APPS = Number(process.env.APPS ?? 200);
const RUNS = Number(process.env.RUNS ?? 10);
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));

// 1. One scan of APPS apps.
const { root, script } = makeRoot("scan");
const workers: ChildProcess[] = [];
for (let i = 0; i < APPS; i++) {
  const name = `benchapp${i}`;
  const port = await freePort();
  layoutApp(root, name, port);
  workers.push(await startWorker(script, name, port));
}
const scanMs: number[] = [];
const scanCpuMs: number[] = [];
for (let i = 0; i < 60; i++) {
  // The process table is reused for half a second; a scan every few seconds reads it afresh.
  await new Promise((resolve) => setTimeout(resolve, 510));
  const cpu = process.cpuUsage();
  const started = performance.now();
  const runtimes = await appRuntimes(root, await listApps(root));
  const states = await Promise.all(runtimes.map((r) => livenessOf(r, undefined)));
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const notRunning = states.filter((s) => s.state !== "running").length;
  if (notRunning > 0) throw new Error(`${notRunning} apps not seen running`);
  if (i >= 10) {
    scanMs.push(elapsed);
    scanCpuMs.push((used.user + used.system) / 1000);
  }
}
const scan = summarise(scanMs);
const scanCpu = summarise(scanCpuMs);
console.log(`node ${process.version}; ${(await processTable()).length} processes on this machine`);
console.log(`one app scan of ${APPS} apps (vassals, process table, listening sockets, LIVE_ENV), ${scan.runs} scans:`);
console.log(`  wall median ${ms(scan.median)}, p99 ${ms(scan.p99)}; CPU median ${ms(scanCpu.median)}, p99 ${ms(scanCpu.p99)}`);
for (const w of workers) w.kill("SIGKILL");

// 2. From kill to failure, in a running exporter.
const small = makeRoot("crash").root;
const port = await freePort();
layoutApp(small, "crashy", port);
const listen = await freePort();
writeFileSync(path.join(small, "c.toml"), `hop3_root = "${small}"\nstate_dir = "${small}.state"\nlisten = "127.0.0.1:${listen}"\ninterval = 30\nlog_level = "warn"\n`);
const exporter = spawn(process.execPath, [CLI, "--config", path.join(small, "c.toml"), "serve"], { stdio: ["ignore", "ignore", "inherit"] });
const severity = async (): Promise<number | undefined> => {
  try {
    const text = await (await fetch(`http://127.0.0.1:${listen}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith('hop3_app_health_severity{app="crashy"}'));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
  } catch {
    return undefined;
  }
};
const until = async (want: number, timeoutMs: number): Promise<number> => {
  const started = performance.now();
  while ((await severity()) !== want) {
    if (performance.now() - started > timeoutMs) throw new Error(`severity ${want} not reached in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now();
};
const lags: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const worker = await startWorker(script, "crashy", port);
  await until(0, 40_000);
  // Kill at a random point of the scan period, as a crash would come.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 2000));
  const killedAt = performance.now();
  worker.kill("SIGKILL");
  lags.push((await until(2, 40_000)) - killedAt);
}
exporter.kill("SIGTERM");
const lag = summarise(lags);
console.log(`from killing an app's process to its check failing (app_scan_interval 2 s, cycle interval 30 s), ${lag.runs} kills:`);
console.log(`  median ${ms(lag.median)}, p99 ${ms(lag.p99)}, max ${ms(Math.max(...lags))}`);
process.exit(0);
