// Two attacks from a local client, replayed against the exporter, before and after the hardening:
// 1. A 200 MB event log: start-up time to /-/ready, RSS, and the time of a GET /api/v1/events.
// 2. A connection flood: FLOOD idle connections held open, then the time of a scrape and whether
//    check cycles go on finishing meanwhile.
//
//   npm run build && node dist/bench/attacks.js
//   BEFORE=/path/to/older/dist/bin/hop3-health.cjs node dist/bench/attacks.js     (side by side with an older build)
//   LOG_MB=200 FLOOD=8000 by default.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { freePort } from "./lib/net.js";
import { ms } from "./lib/stats.js";

const LOG_MB = Number(process.env.LOG_MB ?? 200);
const FLOOD = Number(process.env.FLOOD ?? 8000);
const AFTER = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:")) ?? "VmRSS: 0 kB";
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** A log of LOG_MB megabytes of transition and probe events over 500 checks. */
function writeBigLog(file: string): void {
  const fd = openSync(file, "w");
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const check = `app:app${i % 500}`;
    lines.push(JSON.stringify({ time: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), kind: "transition", check, name: `app${i % 500}`, section: "Apps", from: "ok", to: i % 2 ? "ok" : "fail", message: `answered HTTP 503 at /health (3 failed probes in a row) ${"x".repeat(60)}` }));
  }
  const chunk = Buffer.from(`${lines.join("\n")}\n`);
  for (let written = 0; written < LOG_MB * 1024 * 1024; written += chunk.length) writeSync(fd, chunk);
  closeSync(fd);
}

async function waitReady(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the exporter exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error("never ready");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function start(cli: string, root: string, extra = ""): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const config = path.join(root, `c-${port}.toml`);
  const text = `hop3_root = "${root}"\nstate_dir = "${root}.state"\nlisten = "127.0.0.1:${port}"\ninterval = 2\nlog_level = "error"\nevents = "${path.join(root, "events.jsonl")}"\n${extra}`;
  const fd = openSync(config, "w");
  writeSync(fd, text);
  closeSync(fd);
  const child = spawn(process.execPath, [cli, "--config", config, "serve"], { stdio: ["ignore", "ignore", "inherit"] });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function eventLogAttack(label: string, cli: string): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-log-"));
  mkdirSync(path.join(root, "apps"));
  writeBigLog(path.join(root, "events.jsonl"));
  const t = performance.now();
  const { child, url } = await start(cli, root);
  try {
    await waitReady(url, child);
    const startup = performance.now() - t;
    const rssReady = rssMiB(child.pid!);
    const times: number[] = [];
    let peak = rssReady;
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await (await fetch(`${url}/api/v1/events?limit=100`)).text();
      times.push(performance.now() - s);
      peak = Math.max(peak, rssMiB(child.pid!));
    }
    times.sort((a, b) => a - b);
    console.log(`  ${label.padEnd(7)} start-up to ready ${ms(startup).padStart(11)}   RSS at ready ${rssReady.toFixed(0).padStart(5)} MiB   GET /api/v1/events median ${ms(times[2]!).padStart(10)}   peak RSS ${peak.toFixed(0).padStart(5)} MiB`);
  } finally {
    child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
}

async function floodAttack(label: string, cli: string): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-flood-"));
  mkdirSync(path.join(root, "apps"));
  const { child, url } = await start(cli, root);
  const port = Number(new URL(url).port);
  const sockets: net.Socket[] = [];
  try {
    await waitReady(url, child);
    let refused = 0;
    await Promise.all(
      Array.from({ length: FLOOD }, () =>
        new Promise<void>((resolve) => {
          const socket = net.connect(port, "127.0.0.1", () => resolve());
          socket.on("error", () => {
            refused++;
            resolve();
          });
          socket.on("close", () => undefined);
          sockets.push(socket);
        }),
      ),
    );
    const lastCycle = async (): Promise<number> => {
      const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
      return Number(/^hop3_health_last_cycle_timestamp_seconds (\S+)/m.exec(text)?.[1] ?? 0);
    };
    let scrape = "failed";
    let cycles = "stopped";
    try {
      const s = performance.now();
      const before = await lastCycle();
      scrape = ms(performance.now() - s);
      await new Promise((resolve) => setTimeout(resolve, 5000));
      cycles = (await lastCycle()) > before ? "go on" : "stopped";
    } catch (error) {
      scrape = `failed (${error instanceof Error ? error.message : String(error)})`;
    }
    const open = sockets.filter((s) => !s.destroyed).length;
    console.log(`  ${label.padEnd(7)} ${FLOOD} idle connections: ${String(open).padStart(5)} still open after 5 s (${refused} refused)   a scrape took ${scrape}   cycles ${cycles}   RSS ${rssMiB(child.pid!).toFixed(0)} MiB`);
  } finally {
    for (const s of sockets) s.destroy();
    child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
}

const builds: Array<[string, string]> = [...(process.env.BEFORE ? [["before", process.env.BEFORE] as [string, string]] : []), ["after", AFTER]];
console.log(`node ${process.version}; file descriptors: ${readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))?.split(/\s+/).slice(3, 5).join(" / ") ?? "?"}`);
console.log(`1. a ${LOG_MB} MB event log:`);
for (const [label, cli] of builds) await eventLogAttack(label, cli);
console.log(`2. a connection flood:`);
for (const [label, cli] of builds) await floodAttack(label, cli);
process.exit(0);
