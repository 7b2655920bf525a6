// /metrics under load, side by side with Debian's prometheus-node-exporter on this machine:
//  1. latency (median, p99) and throughput with a 3-second check configured (a cycle is always
//     under way, and scrapes must not wait on it);
//  2. the same with 1,000 checks: series count, bytes per scrape, latency;
//  3. the exporter's RSS after 1,000 cycles against after 10 (growth should be zero within noise).
//
//   npm run build && node --expose-gc dist/bench/metrics-load.js
//   (SECONDS_PER_RUN=5 CONCURRENCY=16 by default)

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createEngine } from "../src/engine/engine.js";
import { HealthState } from "../src/engine/state.js";
import { createMetrics } from "../src/exporter/metrics.js";
import { freePort } from "./lib/net.js";
import { unitEnvironment } from "./lib/unit.js";
import { ms, summarise } from "./lib/stats.js";

const SECONDS_PER_RUN = Number(process.env.SECONDS_PER_RUN ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));


/** A plugin folder: `count` instant checks, and one that takes `slowSeconds` when above 0. */
function pluginDir(count: number, slowSeconds: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-plugin-"));
  writeFileSync(
    path.join(dir, "many.mjs"),
    `const slow = ${slowSeconds};
export default {
  name: "many",
  getHealthChecks: () => [
    ...Array.from({ length: ${count} }, (_, i) => ({
      id: "bench-" + i, name: "Bench " + i, section: "Apps", isConfigured: () => true,
      check: async () => ({ name: "Bench " + i, passed: i % 10 !== 0, severity: i % 10 === 0 ? "warn" : undefined, message: "fine" }),
    })),
    ...(slow > 0 ? [{
      id: "bench-slow", name: "Slow", section: "Apps", isConfigured: () => true,
      check: (signal) => new Promise((resolve) => { const t = setTimeout(() => resolve({ name: "Slow", passed: true, message: "slow" }), slow * 1000); signal.addEventListener("abort", () => clearTimeout(t)); }),
    }] : []),
  ],
};
`,
  );
  return dir;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never answered`);
}

async function startOurs(checks: number, slowSeconds: number): Promise<{ url: string; child: ChildProcess }> {
  const root = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-"));
  mkdirSync(path.join(root, "apps"));
  writeFileSync(path.join(root, "hop3-server.toml"), 'HOP3_SECRET_KEY = "bench"\n');
  const port = await freePort();
  const config = path.join(root, "hop3-health.toml");
  writeFileSync(
    config,
    `hop3_root = "${root}"\nstate_dir = "${root}.state"\nlisten = "127.0.0.1:${port}"\ninterval = 1\nlog_level = "warn"\nplugins = ["${pluginDir(checks, slowSeconds)}"]\n[checks.bench-slow]\ntimeout = ${slowSeconds + 2}\n`,
  );
  // Run as deploy/hop3-health.service runs it (its NODE_OPTIONS), or as EXPORTER_NODE_OPTIONS says.
  const child = spawn(process.execPath, [CLI, "--config", config, "serve"], { stdio: "ignore", env: { ...process.env, ...unitEnvironment().env } });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/-/ready`);
  return { url, child };
}

async function startNodeExporter(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/metrics`);
  return { url, child };
}

interface LoadResult {
  median: number;
  p99: number;
  perSecond: number;
  series: number;
  bytes: number;
}

/** CONCURRENCY clients scraping back to back for SECONDS_PER_RUN seconds. */
async function load(url: string): Promise<LoadResult> {
  const first = await (await fetch(`${url}/metrics`)).text();
  const latencies: number[] = [];
  const until = performance.now() + SECONDS_PER_RUN * 1000;
  const client = async (): Promise<void> => {
    while (performance.now() < until) {
      const started = performance.now();
      const response = await fetch(`${url}/metrics`);
      await response.arrayBuffer();
      latencies.push(performance.now() - started);
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  const seconds = (performance.now() - began) / 1000;
  const summary = summarise(latencies);
  return {
    median: summary.median,
    p99: summary.p99,
    perSecond: latencies.length / seconds,
    series: first.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length,
    bytes: Buffer.byteLength(first),
  };
}

function row(label: string, r: LoadResult): string {
  return `${label.padEnd(44)} ${`${ms(r.median)} / ${ms(r.p99)}`.padEnd(22)} ${`${r.perSecond.toFixed(0)}/s`.padStart(8)} ${String(r.series).padStart(7)} ${String(r.bytes).padStart(9)}`;
}

console.log(`node ${process.version}; ${CONCURRENCY} concurrent clients, ${SECONDS_PER_RUN} s a run`);
console.log(`${"/metrics of".padEnd(44)} ${"median / p99".padEnd(22)} ${"scrapes".padStart(8)} ${"series".padStart(7)} ${"bytes".padStart(9)}`);

const nodeExporter = await startNodeExporter();
console.log(row("prometheus-node-exporter (Debian)", await load(nodeExporter.url)));
nodeExporter.child.kill();

const slow = await startOurs(0, 3);
console.log(row("hop3-health, built-ins + a 3 s check", await load(slow.url)));
slow.child.kill();

const many = await startOurs(1000, 3);
console.log(row("hop3-health, 1,000 checks + a 3 s check", await load(many.url)));
many.child.kill();

// Memory: the cycle → record → scrape path, 1,000 times, in this process.
const root = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-rss-"));
writeFileSync(path.join(root, "c.toml"), `hop3_root = "${root}"\nstate_dir = "${root}.state"\nplugins = ["${pluginDir(100, 0)}"]\n`);
const engine = await createEngine({ file: path.join(root, "c.toml"), env: {}, logLevel: "silent" });
const state = new HealthState();
const metrics = createMetrics(state, { intervalSeconds: 1, logger: engine.logger });
const gc = (globalThis as { gc?: () => void }).gc;
const memoryAfter = async (cycles: number): Promise<NodeJS.MemoryUsage> => {
  for (let i = 0; i < cycles; i++) {
    const [cycle, identity] = await Promise.all([engine.runCycle(), engine.identity()]);
    state.record(cycle, identity);
    metrics.refresh();
    await metrics.render();
  }
  gc?.();
  await new Promise((resolve) => setTimeout(resolve, 100));
  gc?.();
  return process.memoryUsage();
};
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const after10 = await memoryAfter(10);
const after1000 = await memoryAfter(990);
const after2000 = await memoryAfter(1000);
console.log(`memory with ${(await engine.discover()).length} checks, cycle + record + scrape${gc ? "" : " (run with --expose-gc for steadier figures)"}:`);
for (const [label, m] of [["after 10 cycles", after10], ["after 1,000 cycles", after1000], ["after 2,000 cycles", after2000]] as const) {
  console.log(`  ${label.padEnd(20)} RSS ${mib(m.rss).padStart(10)}   JS heap used ${mib(m.heapUsed).padStart(9)}`);
}
console.log(`  growth 1,000 → 2,000: RSS ${mib(after2000.rss - after1000.rss)}, heap ${mib(after2000.heapUsed - after1000.heapUsed)} (10 → 1,000 includes warm-up: JIT and allocator pools)`);
process.exit(0);
