// What a Hop3 server costs a fleet's Prometheus (deploy/fleet/):
//  1. per server: series, bytes per scrape (plain and gzip, as Prometheus asks for it) and samples
//     per second at a 30 s scrape interval, with no app and with 10 running apps, against the
//     budget of 150 series + 2 per app;
//  2. the central Prometheus with 20 servers, each a real `hop3-health serve` process with its
//     own identity: its memory, its rule evaluation time (the shipped rules) and the time of every
//     fleet dashboard query;
//  3. the same with 200 servers, served by a stand-in: one HTTP server answering, for each server,
//     the exposition a real exporter of part 2 gave, with that server's hostname and its cycles'
//     times brought up to date (the same series and values; no checks run).
// The central Prometheus scrapes the servers itself, each labelled hop3_server as its agent's
// external label would: the series it stores are those remote write brings.
//
//   npm run build && node dist/bench/fleet-cost.js          (SECONDS=120 per fleet size by default)

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { buildFleetDashboard } from "../grafana/fleet.js";
import { layoutApp, makeRoot, startWorker } from "./lib/hop3-root.js";
import { pause } from "./lib/measure.js";
import { freePort } from "./lib/net.js";
import { summarise } from "./lib/stats.js";
import { unitEnvironment } from "./lib/unit.js";

const SECONDS = Number(process.env.SECONDS ?? 120);
const SCRAPE_SECONDS = 30;
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));
const RULES = fileURLToPath(new URL("../../alerts/hop3-health.rules.yml", import.meta.url));
const children: ChildProcess[] = [];
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});


async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(200);
  }
}

function sampleLines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

interface Exporter {
  url: string;
  port: number;
}

/** `hop3-health serve` on a HOP3_ROOT, as the unit runs it, once its first cycle has finished. */
async function startExporter(root: string, etc: string, hostname: string): Promise<Exporter> {
  const port = await freePort();
  const config = path.join(root, `hop3-health-${hostname}.toml`);
  writeFileSync(
    config,
    `hop3_root = "${root}"\nstate_dir = "${root}.state"\nhop3_etc_dir = "${etc}"\nlisten = "127.0.0.1:${port}"\ninterval = ${SCRAPE_SECONDS}\nlog_level = "warn"\n` +
      `[identity]\nhostname = "${hostname}"\nip = "10.0.3.7"\nversion = "0.5.0"\n`,
  );
  const child = spawn(process.execPath, [CLI, "--config", config, "serve"], { env: { ...process.env, ...unitEnvironment().env }, stdio: ["ignore", "ignore", "inherit"] });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await until(async () => ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(10_000) })).ok ? true : undefined), `${hostname}'s first cycle`);
  return { url, port };
}

/** A Hop3 server with `apps` running apps and a certificate where Hop3 keeps its own (openssl makes it). */
async function makeServer(apps: number): Promise<{ root: string; etc: string }> {
  const { root, etc, script } = makeRoot(`fleet-${apps}`);
  mkdirSync(path.join(root, "nginx/ssl"), { recursive: true });
  const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=hop3.example.test", "-days", "40",
    "-keyout", path.join(root, "nginx/ssl/hop3.key"), "-out", path.join(root, "nginx/ssl/hop3.crt")], { stdio: "ignore" });
  if (made.status !== 0) console.log("   (openssl failed: no certificate, so no certificate series)");
  for (let i = 0; i < apps; i++) {
    const port = await freePort();
    layoutApp(root, `app${i}`, port);
    children.push(await startWorker(script, `app${i}`, port));
  }
  return { root, etc };
}

// --- 1. per server -------------------------------------------------------------------------
console.log(`node ${process.version}; hop3-health serve as the unit runs it (${unitEnvironment().text})\n`);
console.log("1. One server's /metrics (a Hop3 layout, the default checks)");
const perServer = new Map<number, { series: number; plain: number; gzip: number; text: string }>();
for (const apps of [0, 10]) {
  const { root, etc } = await makeServer(apps);
  const exporter = await startExporter(root, etc, `size-${apps}`);
  const plain = await (await fetch(`${exporter.url}/metrics`, { headers: { "accept-encoding": "identity" } })).text();
  const zipped = await new Promise<Buffer>((resolve, reject) =>
    http.get(`${exporter.url}/metrics`, { headers: { "accept-encoding": "gzip" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(res.headers["content-encoding"] === "gzip" ? Buffer.concat(chunks) : Buffer.alloc(0)));
      res.on("error", reject);
    }),
  );
  if (zipped.length > 0 && gunzipSync(zipped).length === 0) throw new Error("the gzip body is empty");
  const series = sampleLines(plain).length;
  perServer.set(apps, { series, plain: Buffer.byteLength(plain), gzip: zipped.length, text: plain });
  const families = new Map<string, number>();
  for (const line of sampleLines(plain)) {
    const family = /^[a-zA-Z_:][\w:]*/.exec(line)![0].replace(/_(bucket|sum|count)$/, "");
    families.set(family, (families.get(family) ?? 0) + 1);
  }
  const largest = [...families].sort((a, b) => b[1] - a[1]).slice(0, 6);
  console.log(
    `   ${String(apps).padStart(2)} apps: ${series} series, ${plain.length} bytes per scrape (${zipped.length ? `${zipped.length} gzip` : "no gzip"}), ` +
      `${(series / SCRAPE_SECONDS).toFixed(1)} samples/s at ${SCRAPE_SECONDS} s; most: ${largest.map(([f, n]) => `${f} ${n}`).join(", ")}`,
  );
}
const none = perServer.get(0)!;
const ten = perServer.get(10)!;
const perApp = (ten.series - none.series) / 10;
console.log(`   per app: ${perApp.toFixed(1)} series. Budget: 150 + 2 per app; with no app ${none.series} (${none.series <= 150 ? "within" : "OVER"}), per app ${perApp.toFixed(1)} (${perApp <= 2 ? "within" : "OVER"})`);
// The per-check detail deploy/fleet/agent.yml shows how to drop (its commented metric_relabel_configs).
const agentYaml = readFileSync(fileURLToPath(new URL("../../deploy/fleet/agent.yml", import.meta.url)), "utf8");
const detail = new RegExp(`^(${/^\s*#\s+regex: (.+)$/m.exec(agentYaml)![1]!})$`);
const kept = (text: string): number => sampleLines(text).filter((line) => !detail.test(/^[a-zA-Z_:][\w:]*/.exec(line)![0])).length;
console.log(`   with the per-check detail dropped at the agent (deploy/fleet/agent.yml): ${kept(none.text)} with no app, ${((kept(ten.text) - kept(none.text)) / 10).toFixed(1)} per app\n`);

// --- 2 and 3. the central Prometheus --------------------------------------------------------

interface Target {
  name: string;
  address: string;
  path: string;
}

/** The central Prometheus scraping `targets` every 5 s with the shipped rules, for SECONDS; its figures. */
async function central(targets: Target[]): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-central-"));
  const port = await freePort();
  const interval = 5;
  writeFileSync(
    path.join(dir, "prometheus.yml"),
    `global:\n  scrape_interval: ${interval}s\n  evaluation_interval: ${interval}s\nrule_files: ["${RULES}"]\nscrape_configs:\n` +
      `  - job_name: prometheus\n    static_configs: [{targets: ["127.0.0.1:${port}"]}]\n` +
      `  - job_name: hop3-health\n    static_configs:\n` +
      targets.map((t) => `      - targets: ["${t.address}"]\n        labels: {hop3_server: "${t.name}", instance: "${t.name}:9483", __metrics_path__: "${t.path}"}\n`).join(""),
  );
  const child = spawn("prometheus", [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`], { stdio: "ignore" });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  const query = async (promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const body = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(10_000) })).json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== "success") throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  };
  const scalar = async (promql: string): Promise<number> => Number((await query(promql))[0]?.value[1] ?? NaN);
  await until(async () => ((await scalar('count(up{job="hop3-health"} == 1)')) === targets.length ? true : undefined), `${targets.length} targets up`, 120_000);
  await pause(SECONDS * 1000);

  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1]) / 1024;
  const heap = (await scalar('go_memstats_heap_inuse_bytes{job="prometheus"}')) / 2 ** 20;
  const series = await scalar("prometheus_tsdb_head_series");
  const hop3Series = await scalar('count({job="hop3-health"})');
  const ruleGroup = await scalar('prometheus_rule_group_last_duration_seconds{rule_group=~".*;hop3-health"}');
  const ruleP99 = await scalar('max(prometheus_rule_evaluation_duration_seconds{quantile="0.99"})');
  const firing = await scalar('count(ALERTS{alertstate="firing"}) or vector(0)');
  console.log(
    `   ${targets.length} servers, after ${SECONDS} s of ${interval}-second scrapes: RSS ${rss.toFixed(0)} MB (Go heap in use ${heap.toFixed(0)} MB); ` +
      `head series ${series} (${hop3Series} from hop3-health, ${(hop3Series / targets.length).toFixed(0)} per server, with Prometheus' own up and scrape_*); ` +
      `rule group evaluation ${(ruleGroup * 1000).toFixed(1)} ms (one rule's p99 ${(ruleP99 * 1000).toFixed(2)} ms); ${firing} alerts firing`,
  );
  const rules = (await (await fetch(`${url}/api/v1/rules`, { signal: AbortSignal.timeout(10_000) })).json()) as { data: { groups: Array<{ rules: Array<{ name: string; evaluationTime: number }> }> } };
  const slowest = rules.data.groups.flatMap((g) => g.rules).sort((a, b) => b.evaluationTime - a.evaluationTime).slice(0, 3);
  console.log(`   slowest rules at the last evaluation: ${slowest.map((r) => `${r.name} ${(r.evaluationTime * 1000).toFixed(1)} ms`).join(", ")}`);

  // Every fleet dashboard query, as Grafana sends it with all servers selected: median of 20.
  const dashboard = buildFleetDashboard();
  const rows: string[] = [];
  for (const p of dashboard.panels ?? []) {
    for (const t of "targets" in p ? ((p.targets ?? []) as Array<{ expr: string }>) : []) {
      const promql = t.expr.replaceAll("$instance", ".+");
      const times: number[] = [];
      let resultSize = 0;
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        resultSize = (await query(promql)).length;
        times.push(performance.now() - started);
      }
      rows.push(`      ${(p.title ?? "").padEnd(16)} ${summarise(times).median.toFixed(1).padStart(6)} ms  ${String(resultSize).padStart(4)} series  ${promql.slice(0, 90)}`);
    }
  }
  console.log(`   fleet dashboard queries (median of 20, instant, all servers):\n${rows.join("\n")}`);
  child.kill("SIGTERM");
}

console.log("2. The central Prometheus with 20 servers, each a hop3-health process (3 running apps each)");
const { root, etc } = await makeServer(3);
const exporters: Array<Exporter & { name: string }> = [];
for (let i = 1; i <= 20; i++) exporters.push({ ...(await startExporter(root, etc, `web-${i}`)), name: `web-${i}` });
await central(exporters.map((e) => ({ name: e.name, address: `127.0.0.1:${e.port}`, path: "/metrics" })));

console.log("\n3. The central Prometheus with 200 servers: a stand-in serves each one's exposition, as a real exporter gave it");
const exposition = await (await fetch(`${exporters[0]!.url}/metrics`)).text();
console.log(`   the exposition served for each: web-1's, ${sampleLines(exposition).length} series`);
for (const child of children.splice(0)) child.kill("SIGKILL");
const standInPort = await freePort();
const standIn = http.createServer((req, res) => {
  const name = /^\/metrics\/(.+)$/.exec(req.url ?? "")?.[1] ?? "unknown";
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  // As a live exporter: its cycles keep finishing (else every check looks stale, and pending alerts pile up).
  const now = (Date.now() / 1000).toFixed(3);
  res.end(exposition.replaceAll('hostname="web-1"', `hostname="${name}"`).replace(/^(hop3_health_check_last_run_timestamp_seconds\{[^}]*\}|hop3_health_last_cycle_timestamp_seconds) \S+$/gm, `$1 ${now}`));
});
await new Promise<void>((resolve) => standIn.listen(standInPort, "127.0.0.1", resolve));
await central(Array.from({ length: 200 }, (_, i) => ({ name: `web-${i + 1}`, address: `127.0.0.1:${standInPort}`, path: `/metrics/web-${i + 1}` })));
standIn.close();
process.exit(0);
