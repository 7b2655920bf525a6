// What a command costs before it does its work: wall time of `hop3-health --help`, `--version`
// and a one-shot `status` (only the local checks; then with PostgreSQL configured), each beside
// `node -e 0` on this machine, run in turns so that the machine's noise falls on all alike;
// and which modules and packages each command loads, with its peak RSS.
//
//   npm run build && node dist/bench/startup.js            (RUNS=20 by default)
//   BEFORE=/path/to/older/dist/bin/hop3-health.cjs node dist/bench/startup.js    adds an older build's figures

import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { makeRoot, rootWithRunningApps } from "./lib/hop3-root.js";
import { summarise } from "./lib/stats.js";

const RUNS = Number(process.env.RUNS ?? 20);
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));
const MODULE_LOG = fileURLToPath(new URL("./lib/module-log.js", import.meta.url));
const BEFORE = process.env.BEFORE;

// A server with three running apps and no backing service configured: status runs the local
// checks (filesystem, disk, configuration, services, certificates, apps).
const { root, etc, workers } = await rootWithRunningApps("startup");
const withPg = path.join(root, "with-postgresql.toml");
writeFileSync(withPg, `[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:5432/test"\n`);
const env = { ...process.env, HOP3_ROOT: root, HOP3_ETC_DIR: etc };

// The same server before any app is deployed.
const empty = makeRoot("startup-empty");

interface Command {
  name: string;
  args: string[];
  /** Exit codes that mean it ran as meant. */
  ok: number[];
  env?: NodeJS.ProcessEnv;
}
const commands = (cli: string, label: string): Command[] => [
  { name: `${label}--help`, args: [cli, "--help"], ok: [0] },
  { name: `${label}--version`, args: [cli, "--version"], ok: [0] },
  { name: `${label}status (no apps yet)`, args: [cli, "status", "--quiet"], ok: [0, 1], env: { HOP3_ROOT: empty.root, HOP3_ETC_DIR: empty.etc } },
  { name: `${label}status (local checks)`, args: [cli, "status", "--quiet"], ok: [0, 1] },
  { name: `${label}status (+ PostgreSQL)`, args: [cli, "--config", withPg, "status", "--quiet"], ok: [0, 1] },
];
const all: Command[] = [{ name: "node -e 0", args: ["-e", "0"], ok: [0] }, ...commands(CLI, ""), ...(BEFORE ? commands(BEFORE, "before: ") : [])];

function run(command: Command, extraEnv: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, [...nodeArgs, ...command.args], { env: { ...env, ...command.env, ...extraEnv }, encoding: "utf8" });
  const elapsed = performance.now() - started;
  if (!command.ok.includes(result.status ?? -1)) throw new Error(`${command.name} exited ${result.status}: ${result.stdout}${result.stderr}`);
  return elapsed;
}

// Warm the file cache, then RUNS rounds, each command once per round.
for (const command of all) run(command);
const samples = new Map<string, number[]>(all.map((c) => [c.name, []]));
for (let round = 0; round < RUNS; round++) for (const command of all) samples.get(command.name)!.push(run(command));

const baseline = summarise(samples.get("node -e 0")!).median;
console.log(`node ${process.version}; median of ${RUNS} runs each, in turns; status on a HOP3_ROOT with 3 running apps`);
console.log(`${"command".padEnd(34)} ${"median".padStart(9)} ${"p90".padStart(9)} ${"× node -e 0".padStart(12)}`);
for (const command of all) {
  const s = samples.get(command.name)!;
  const sorted = [...s].sort((a, b) => a - b);
  const p90 = sorted[Math.floor(0.9 * (sorted.length - 1))]!;
  const median = summarise(s).median;
  console.log(`${command.name.padEnd(34)} ${`${median.toFixed(0)} ms`.padStart(9)} ${`${p90.toFixed(0)} ms`.padStart(9)} ${(median / baseline).toFixed(2).padStart(12)}`);
}

// What each command loads.
console.log("\nwhat each command loads beside its own program (bench/lib/module-log.ts), and peak RSS:");
for (const command of all.filter((c) => c.name !== "node -e 0")) {
  const log = path.join(root, "modules.log");
  rmSync(log, { force: true });
  run(command, { MODULE_LOG: log }, ["--import", MODULE_LOG]);
  const lines = readFileSync(log, "utf8").trim().split("\n");
  const rss = Number(lines.find((l) => l.startsWith("maxrss "))?.slice(7) ?? NaN) / 1024;
  // The ES loader names files by URL, the CommonJS one by path: one module, counted once.
  const modules = new Set(lines.filter((l) => !l.startsWith("maxrss ") && !l.includes("/dist/bench/lib/module-log")).map((l) => (l.startsWith("file:") ? fileURLToPath(l) : l)));
  const packages = new Map<string, number>();
  let own = 0;
  let builtins = 0;
  for (const module of modules) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(module)?.[1];
    if (pkg) packages.set(pkg, (packages.get(pkg) ?? 0) + 1);
    else if (module.startsWith("node:")) builtins++;
    else own++;
  }
  const pkgs = [...packages].map(([name, n]) => `${name} (${n})`).join(", ") || "none";
  console.log(`  ${command.name.padEnd(32)} ${String(own).padStart(2)} of its own, ${String(builtins).padStart(3)} of Node's, packages: ${pkgs}; ${rss.toFixed(0)} MB`);
}
for (const worker of workers) worker.kill();
rmSync(root, { recursive: true, force: true });
rmSync(empty.root, { recursive: true, force: true });
