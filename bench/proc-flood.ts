// What any local user can do to `serve` through the process table: 1,000 processes with 1.8 MB
// command lines each (15 arguments of 120 KB under one `sh`). Measured before and during the flood:
// serve's RSS, /metrics latency (median, p99), the slowest check's duration, and the checks that are not ok
// (a flood must add no false failure). Run as deploy/hop3-health.service runs it (its NODE_OPTIONS).
//
//   npm run build && node dist/bench/proc-flood.js        (PROCS=1000, CYCLES=60 by default)

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rootWithRunningApps } from "./lib/hop3-root.js";
import { pause, rssMb, sample } from "./lib/measure.js";
import { freePort } from "./lib/net.js";
import { ms, timeRuns } from "./lib/stats.js";
import { unitEnvironment } from "./lib/unit.js";

const PROCS = Number(process.env.PROCS ?? 1000);
const CYCLES = Number(process.env.CYCLES ?? 60);
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));

const { root, etc, workers } = await rootWithRunningApps("proc-flood");
const port = await freePort();
const config = path.join(root, "hop3-health.toml");
writeFileSync(config, `hop3_root = "${root}"\nstate_dir = "${root}.state"\nhop3_etc_dir = "${etc}"\nlisten = "127.0.0.1:${port}"\ninterval = 2\nlog_level = "warn"\n`);
const exporter = spawn(process.execPath, [CLI, "--config", config, "serve"], { env: { ...process.env, ...unitEnvironment().env }, stdio: ["ignore", "ignore", "inherit"] });
const url = `http://127.0.0.1:${port}`;
const flood: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of [exporter, ...workers, ...flood]) child.kill("SIGKILL");
});

interface Phase {
  rss: number;
  p50: number;
  p99: number;
  /** The slowest check of the last cycle, seconds. */
  cycle: number;
  notOk: string[];
}

/** CYCLES cycles watched: the largest RSS, scrape latency after them, the slowest check of the last cycle, what is not ok. */
async function measure(): Promise<Phase> {
  let rss = 0;
  const seen = new Set<number>();
  while (seen.size < CYCLES) {
    await pause(500);
    const text = await (await fetch(`${url}/metrics`)).text();
    seen.add(sample(text, "hop3_health_last_cycle_timestamp_seconds"));
    rss = Math.max(rss, rssMb(exporter.pid!));
  }
  const latency = await timeRuns(100, async () => (await fetch(`${url}/metrics`)).text());
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const status = (await (await fetch(`${url}/status`)).json()) as { sections: Array<{ items: Array<{ check: string; severity: string; detail: string }> }> };
  const notOk = status.sections.flatMap((s) => s.items).filter((i) => i.severity !== "ok").map((i) => `${i.check}: ${i.detail}`);
  return { rss, p50: latency.median, p99: latency.p99, cycle: Math.max(...[...metrics.matchAll(/^hop3_health_check_duration_seconds\{[^}]*\} (\S+)$/gm)].map((m) => Number(m[1]))), notOk };
}

for (let i = 0; i < 200 && !(await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)); i++) await pause(100);
console.log(`node ${process.version}; serve with the default checks and 3 apps, a cycle every 2 s; ${unitEnvironment().text}`);
const before = await measure();

// The flood: PROCS shells, each with 15 arguments of 120 KB (under the kernel's 128 KB per argument).
const argument = "x".repeat(120 * 1024);
const args = Array.from({ length: 15 }, () => argument);
for (let i = 0; i < PROCS; i++) flood.push(spawn("/bin/sh", ["-c", "sleep 600; :", "flood", ...args], { stdio: "ignore", env: {} }));
await pause(2000);
const cmdline = readFileSync(`/proc/${flood[0]!.pid}/cmdline`).length;
console.log(`flood: ${flood.length} processes, /proc/<pid>/cmdline of ${(cmdline / 2 ** 20).toFixed(2)} MB each (${((cmdline * flood.length) / 2 ** 30).toFixed(2)} GB in all)`);
const during = await measure();

const row = (name: string, p: Phase): string =>
  `${name.padEnd(16)} ${`${p.rss.toFixed(1)} MB`.padStart(9)} ${ms(p.p50).padStart(9)} ${ms(p.p99).padStart(9)} ${`${(p.cycle * 1000).toFixed(0)} ms`.padStart(9)} ${String(p.notOk.length).padStart(7)}`;
console.log(`\n${"".padEnd(16)} ${"max RSS".padStart(9)} ${"median".padStart(9)} ${"p99".padStart(9)} ${"slowest".padStart(9)} ${"not ok".padStart(7)}`);
console.log(row("before", before));
console.log(row(`${PROCS} × 1.8 MB`, during));
for (const line of during.notOk) console.log(`  not ok during the flood: ${line}`);
for (const child of flood) child.kill("SIGKILL");
exporter.kill("SIGTERM");
for (const worker of workers) worker.kill("SIGKILL");
process.exit(0);
