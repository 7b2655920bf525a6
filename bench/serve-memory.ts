// What `serve` costs to keep running: its RSS and V8 heap after every 100 check cycles of the
// default checks on a Hop3 layout with three running apps (a cycle a second, scraped every
// second), run as deploy/hop3-health.service runs it (its environment; EXPORTER_NODE_OPTIONS over its NODE_OPTIONS), and
// beside it the RSS of Debian's prometheus-node-exporter on this machine after as many scrapes.
//
//   npm run build && node dist/bench/serve-memory.js        (CYCLES=1000 by default: 17 minutes)

import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { rootWithRunningApps } from "./lib/hop3-root.js";
import { pause, rssMb, sample } from "./lib/measure.js";
import { freePort } from "./lib/net.js";
import { unitEnvironment } from "./lib/unit.js";

const CYCLES = Number(process.env.CYCLES ?? 1000);
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));


const { root, etc, workers } = await rootWithRunningApps("memory");
const port = await freePort();
const config = path.join(root, "hop3-health.toml");
writeFileSync(config, `hop3_root = "${root}"\nstate_dir = "${root}.state"\nhop3_etc_dir = "${etc}"\nlisten = "127.0.0.1:${port}"\ninterval = 1\nlog_level = "warn"\n`);
const exporter = spawn(process.execPath, [CLI, "--config", config, "serve"], {
  env: { ...process.env, ...unitEnvironment().env },
  stdio: ["ignore", "ignore", "inherit"],
});

console.log(`node ${process.version}; serve with the default checks (filesystem, disk, configuration, 3 apps), a cycle a second; ${unitEnvironment().text}`);
console.log(`${"cycles".padStart(6)} ${"RSS".padStart(8)} ${"heap used".padStart(10)}`);
const seen = new Set<number>();
const rows: Array<{ cycles: number; rss: number; heap: number }> = [];
let next = 100;
while (seen.size < CYCLES) {
  await pause(1000);
  let text: string;
  try {
    text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } catch {
    continue;
  }
  const last = sample(text, "hop3_health_last_cycle_timestamp_seconds");
  if (!Number.isNaN(last)) seen.add(last);
  if (seen.size >= next) {
    const row = { cycles: seen.size, rss: rssMb(exporter.pid!), heap: sample(text, "nodejs_heap_size_used_bytes") / 2 ** 20 };
    rows.push(row);
    console.log(`${String(row.cycles).padStart(6)} ${`${row.rss.toFixed(1)} MB`.padStart(8)} ${`${row.heap.toFixed(1)} MB`.padStart(10)}`);
    next += 100;
  }
}
exporter.kill("SIGTERM");

// Debian's node_exporter, scraped as many times.
const nodePort = await freePort();
const nodeExporter = spawn("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${nodePort}`], { stdio: "ignore" });
let scrapes = 0;
while (scrapes < Math.min(CYCLES, 200)) {
  await pause(50);
  if (await fetch(`http://127.0.0.1:${nodePort}/metrics`).then((r) => r.text().then(() => true), () => false)) scrapes++;
}
const nodeExporterRss = rssMb(nodeExporter.pid!);
nodeExporter.kill();

const first = rows[0]!;
const lastRow = rows.at(-1)!;
const heaps = rows.map((r) => r.heap);
console.log(`\nhop3-health serve after ${lastRow.cycles} cycles: RSS ${lastRow.rss.toFixed(1)} MB (peak of the samples ${Math.max(...rows.map((r) => r.rss)).toFixed(1)} MB)`);
console.log(`prometheus-node-exporter after ${scrapes} scrapes: RSS ${nodeExporterRss.toFixed(1)} MB`);
console.log(
  `heap used from cycle ${first.cycles} to ${lastRow.cycles}: ${first.heap.toFixed(1)} → ${lastRow.heap.toFixed(1)} MB ` +
    `(samples between ${Math.min(...heaps).toFixed(1)} and ${Math.max(...heaps).toFixed(1)} MB)`,
);
for (const worker of workers) worker.kill();
process.exit(0);
