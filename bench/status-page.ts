// What the status page costs the exporter with 500 checks and a week of history in the event log
// (one check in ten flapping every hour for the last day): the server time of `/` (its
// Server-Timing header: the report, every check's history and the HTML), the whole answer as a
// client sees it (gzip, as browsers ask), and its size; and the same for `/status` (JSON, with the history).
//
//   npm run build && node dist/bench/status-page.js          (RUNS=50 by default)

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { freePort } from "./lib/net.js";
import { summarise } from "./lib/stats.js";
import { unitEnvironment } from "./lib/unit.js";

const RUNS = Number(process.env.RUNS ?? 50);
const CHECKS = 500;
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));
const HOUR = 3_600_000;

const root = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-page-"));
mkdirSync(path.join(root, "apps"));
writeFileSync(path.join(root, "hop3-server.toml"), 'HOP3_SECRET_KEY = "bench"\n');
const plugin = path.join(root, "plugin");
mkdirSync(plugin);
writeFileSync(
  path.join(plugin, "many.mjs"),
  `export default {
  name: "many",
  getHealthChecks: () => Array.from({ length: ${CHECKS} }, (_, i) => ({
    id: "bench-" + i, name: "Bench check " + i, section: ["Services", "Backing services", "Filesystem", "Apps"][i % 4], isConfigured: () => true,
    check: async () => ({ name: "Bench check " + i, passed: i % 25 !== 0, severity: i % 25 === 0 ? (i % 50 === 0 ? "fail" : "warn") : undefined, message: "answered in 12 ms" }),
  })),
};
`,
);
// A week of history: every check ok from a week ago; one in ten failing for half of every hour of the last day.
const now = Date.now();
const at = (hoursAgo: number): string => new Date(now - hoursAgo * HOUR).toISOString();
const lines = [JSON.stringify({ time: at(168), kind: "snapshot", check: "*", message: "", severities: Object.fromEntries(Array.from({ length: CHECKS }, (_, i) => [`bench-${i}`, "ok"])) })];
for (let i = 0; i < CHECKS; i += 10) {
  for (let h = 24; h > 0; h--) {
    lines.push(JSON.stringify({ time: at(h), kind: "transition", check: `bench-${i}`, from: "ok", to: "fail", message: "refused" }));
    lines.push(JSON.stringify({ time: at(h - 0.5), kind: "transition", check: `bench-${i}`, from: "fail", to: "ok", message: "ok" }));
  }
}
mkdirSync(`${root}.state`, { recursive: true, mode: 0o750 });
writeFileSync(path.join(`${root}.state`, "events.jsonl"), `${lines.join("\n")}\n`);

const port = await freePort();
writeFileSync(path.join(root, "hop3-health.toml"), `hop3_root = "${root}"\nstate_dir = "${root}.state"\nlisten = "127.0.0.1:${port}"\ninterval = 30\nlog_level = "warn"\nplugins = ["${plugin}"]\n`);
const child = spawn(process.execPath, [CLI, "--config", path.join(root, "hop3-health.toml"), "serve"], { stdio: "ignore", env: { ...process.env, ...unitEnvironment().env } });
process.on("exit", () => child.kill("SIGKILL"));
const url = `http://127.0.0.1:${port}`;
for (let i = 0; !(await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)); i++) {
  if (i > 300) throw new Error("the exporter never became ready");
  await new Promise((resolve) => setTimeout(resolve, 100));
}

console.log(`node ${process.version}; ${CHECKS} checks, ${lines.length} events in the log; ${RUNS} requests each, one at a time`);
for (const [name, target] of [
  ["/ (HTML)", "/"],
  ["/status (JSON)", "/status"],
] as const) {
  const server: number[] = [];
  const total: number[] = [];
  let bytes = 0;
  let sent = 0;
  for (let i = 0; i < RUNS + 5; i++) {
    const started = performance.now();
    const response = await fetch(`${url}${target}`);
    bytes = (await response.arrayBuffer()).byteLength;
    sent = Number(response.headers.get("content-length"));
    if (i < 5) continue; // warm-up
    total.push(performance.now() - started);
    const timing = /dur=([\d.]+)/.exec(response.headers.get("server-timing") ?? "")?.[1];
    if (timing !== undefined) server.push(Number(timing));
  }
  const t = summarise(total);
  const s = server.length > 0 ? summarise(server) : null;
  console.log(
    `${name.padEnd(16)} ${s ? `server time median ${s.median.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms; ` : ""}answer median ${t.median.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms; ${(bytes / 1024).toFixed(0)} KiB (${(sent / 1024).toFixed(0)} KiB sent, gzip)`,
  );
}
child.kill("SIGTERM");
