// What `serve` costs when nothing happens: its CPU over DURATION seconds at the default settings,
// scraped every 15 s, on a Hop3 layout with 10 apps run by a real uWSGI Emperor (Debian's uwsgi and
// uwsgi-plugin-python3: vassals written as Hop3 writes them, one small WSGI app each), and beside it
// Debian's prometheus-node-exporter at its defaults, scraped as often, in the same run.
//
//   npm run build && env -u NODE_EXTRA_CA_CERTS node dist/bench/idle-cost.js     (DURATION=600 by default)

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeRoot } from "./lib/hop3-root.js";
import { pause, rssMb } from "./lib/measure.js";
import { freePort } from "./lib/net.js";
import { unitEnvironment } from "./lib/unit.js";

const DURATION = Number(process.env.DURATION ?? 600);
const APPS = 10;
const SCRAPE_EVERY = 15_000;
const WARMUP = 20_000;
const CLI = fileURLToPath(new URL("../bin/hop3-health.cjs", import.meta.url));
const TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** CPU seconds used so far by a process (user + system), from /proc/<pid>/stat. */
const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
};

for (const tool of ["uwsgi", "prometheus-node-exporter"]) {
  if (spawnSync(tool, ["--version"]).error) throw new Error(`${tool} is needed: apt-get install uwsgi uwsgi-plugin-python3 prometheus-node-exporter`);
}

const children: ChildProcess[] = [];
const { root, etc } = makeRoot("idle");
mkdirSync(path.join(root, "uwsgi"), { recursive: true });
for (let i = 0; i < APPS; i++) {
  const name = `idle${i}`;
  const port = await freePort();
  const dir = path.join(root, "apps", name);
  for (const sub of ["src/hop3", "venv", "log"]) mkdirSync(path.join(dir, sub), { recursive: true });
  writeFileSync(path.join(dir, "src/app.py"), 'def application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [b"ok"]\n');
  writeFileSync(path.join(dir, "src/hop3/hop3.toml"), '[healthcheck]\npath = "/health"\n');
  writeFileSync(path.join(dir, "venv/LIVE_ENV"), `APP=${name}\nBIND_ADDRESS=127.0.0.1\nPORT=${port}\n`);
  const vassal = { chdir: path.join(dir, "src"), "http-socket": `127.0.0.1:${port}`, logto2: path.join(dir, "log", "wsgi.1.log"), master: "true", module: "app:application", plugin: "python3", "procname-prefix": `${name}:wsgi:`, processes: "1" };
  writeFileSync(path.join(root, "uwsgi-enabled", `${name}_wsgi.1.ini`), `[uwsgi]\n${Object.entries(vassal).map(([k, v]) => `${k} = ${v}`).join("\n")}\n`);
}
// The Emperor as Hop3's unit starts it, logging to a file.
const emperorLog = openSync(path.join(root, "uwsgi-emperor.log"), "a");
children.push(spawn("uwsgi", ["--emperor", path.join(root, "uwsgi-enabled"), "--stats", path.join(root, "uwsgi-stats.sock")], { stdio: ["ignore", emperorLog, emperorLog], cwd: root }));
closeSync(emperorLog);

const port = await freePort();
const config = path.join(root, "hop3-health.toml");
writeFileSync(config, `hop3_root = "${root}"\nstate_dir = "${root}.state"\nhop3_etc_dir = "${etc}"\nlisten = "127.0.0.1:${port}"\nlog_level = "warn"\n`);
const unit = unitEnvironment();
// EXPORTER_NODE_ARGS: node's own flags for the exporter (--cpu-prof, say), which NODE_OPTIONS may not carry;
// EXPORTER_LOG=1 shows its log (with HOP3_HEALTH__LOG_LEVEL=debug, each cycle's CPU).
const nodeArgs = process.env.EXPORTER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
const exporter = spawn(process.execPath, [...nodeArgs, CLI, "--config", config, "serve"], { env: { ...process.env, ...unit.env }, stdio: ["ignore", process.env.EXPORTER_LOG ? "inherit" : "ignore", "inherit"] });
children.push(exporter);
const nePort = await freePort();
const nodeExporter = spawn("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${nePort}`], { stdio: "ignore" });
children.push(nodeExporter);
// uWSGI's Emperor ends its vassals on SIGINT (SIGTERM would reload them).
const stop = (): void => {
  for (const child of children) child.kill(child === children[0] ? "SIGINT" : "SIGTERM");
};
process.on("exit", stop);

const scrape = async (url: string): Promise<string> => {
  const response = await fetch(url, { headers: { "accept-encoding": "gzip" } });
  return response.text();
};
// Ready, and every app seen running: then a warm-up, then the measure.
for (let waited = 0; ; waited += 500) {
  const text = await scrape(`http://127.0.0.1:${port}/metrics`).catch(() => "");
  const running = text.split("\n").filter((l) => l.startsWith("hop3_app_health_severity{") && l.endsWith(" 0")).length;
  if (running === APPS) break;
  if (waited > 60_000) throw new Error(`the ${APPS} apps are not all seen healthy after a minute (${running})`);
  await pause(500);
}
await pause(WARMUP);

const start = { serve: cpuSeconds(exporter.pid!), node: cpuSeconds(nodeExporter.pid!), at: Date.now() };
for (let t = 0; t < DURATION * 1000; t += SCRAPE_EVERY) {
  await Promise.all([scrape(`http://127.0.0.1:${port}/metrics`), scrape(`http://127.0.0.1:${nePort}/metrics`)]);
  await pause(Math.min(SCRAPE_EVERY, DURATION * 1000 - t));
}
const seconds = (Date.now() - start.at) / 1000;
const used = { serve: cpuSeconds(exporter.pid!) - start.serve, node: cpuSeconds(nodeExporter.pid!) - start.node };
const percent = (cpu: number): string => `${((cpu / seconds) * 100).toFixed(3)} % of a core (${cpu.toFixed(2)} CPU-s)`;
console.log(`node ${process.version}; ${APPS} apps under a real uWSGI Emperor, defaults (cycle 30 s, app scan 2 s), a scrape every 15 s, ${Math.round(seconds)} s; ${unit.text}`);
console.log(`  hop3-health serve:         ${percent(used.serve)}, RSS ${rssMb(exporter.pid!).toFixed(1)} MB`);
console.log(`  prometheus-node-exporter:  ${percent(used.node)}, RSS ${rssMb(nodeExporter.pid!).toFixed(1)} MB`);
console.log(`  ratio: ${(used.serve / Math.max(used.node, 1 / TICKS)).toFixed(2)} × node_exporter's CPU`);
stop();
await pause(1000);
process.exit(0);
