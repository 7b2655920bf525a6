// Attacks on the exporter, each reproduced: from an app's own files, from a local client, and from
// a plugin. Every test here broke an earlier version.

import { execFileSync } from "node:child_process";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import bcrypt from "bcryptjs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { makeRedactor, maskUrlCredentials, redactDeep } from "../src/health/redact.js";
import { printable } from "../src/report/text.js";
import { itemsOf, makeHop3Root, runCli, tempDir, type JsonReport } from "./helpers/cli.js";
import { eventually, metricValue, sleep, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { makeHop3Layout, startAppProcess, type AppProcess } from "./helpers/hop3-layout.js";
import { closedPort, requireSharedServers } from "./helpers/servers.js";

const running: RunningExporter[] = [];
const processes: AppProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop("SIGKILL")));
});
afterAll(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop()));
});

async function exporter(...args: Parameters<typeof startExporter>): Promise<RunningExporter> {
  const e = await startExporter(...args);
  running.push(e);
  return e;
}

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

describe("an app's own files", () => {
  it("a manifest path is a path on the app, never another host or port", async () => {
    const elsewhere = net.createServer((socket) => socket.destroy());
    const connections: number[] = [];
    elsewhere.on("connection", () => connections.push(1));
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
    const other = (elsewhere.address() as net.AddressInfo).port;
    const layout = await makeHop3Layout([
      { name: "hd-slashes", manifest: `[healthcheck]\npath = "//127.0.0.1:${other}/x"\n`, workers: { web: 1 } },
      { name: "hd-backslash", manifest: `[healthcheck]\npath = "/\\\\\\\\127.0.0.1:${other}/x"\n`, workers: { web: 1 } },
    ]);
    const slashes = await startAppProcess(layout, "hd-slashes", "web", "starting");
    const backslash = await startAppProcess(layout, "hd-backslash", "web", "starting");
    processes.push(slashes, backslash);
    const result = await runCli(["status", "--json"], { HOP3_ROOT: layout.root });
    const items = itemsOf(JSON.parse(result.stdout) as JsonReport);
    expect(items["app:hd-slashes"]).toMatchObject({ severity: "ok", detail: `answered HTTP 200 at //127.0.0.1:${other}/x` });
    expect(items["app:hd-backslash"]!.severity).toBe("ok");
    expect(slashes.requests().map((r) => r.path)).toContain(`//127.0.0.1:${other}/x`);
    expect(backslash.requests().map((r) => r.path)).toContain(`/\\\\127.0.0.1:${other}/x`);
    expect(connections).toEqual([]);
    await new Promise((resolve) => elsewhere.close(resolve));
  });

  it("a huge path is refused, saying so; masking is linear on a megabyte", async () => {
    const layout = await makeHop3Layout([{ name: "hd-huge", manifest: `[healthcheck]\npath = "/${"a".repeat(100_000)}"\n`, workers: { web: 1 } }]);
    processes.push(await startAppProcess(layout, "hd-huge", "web", "starting"));
    const started = performance.now();
    const result = await runCli(["status", "--json"], { HOP3_ROOT: layout.root });
    const item = itemsOf(JSON.parse(result.stdout) as JsonReport)["app:hd-huge"]!;
    expect(item).toMatchObject({ severity: "fail", reason: "config" });
    expect(item.detail).toMatch(/healthcheck\.path: 100001 characters, more than the 2048 hop3-health takes$/);
    expect(performance.now() - started).toBeLessThan(20_000);

    // The redaction that took 12–23 s on 100 kB is a linear scan: a megabyte of letters, then of
    // schemes without credentials, each well under a second.
    const redact = makeRedactor(["s3cr3t-value"]);
    for (const input of ["a".repeat(1 << 20), "http://".repeat(150_000), `${"x".repeat(1 << 19)}://${"y".repeat(1 << 19)}`]) {
      const t = performance.now();
      redact(input);
      expect(performance.now() - t).toBeLessThan(1000);
    }
  });

  it("a FIFO for a manifest, LIVE_ENV or certificate blocks nothing", async () => {
    const layout = await makeHop3Layout([{ name: "hd-fifo", workers: { web: 1 } }]);
    processes.push(await startAppProcess(layout, "hd-fifo", "web", "starting"));
    const dir = path.join(layout.root, "apps/hd-fifo");
    await mkdir(path.join(dir, "src/hop3"), { recursive: true });
    execFileSync("mkfifo", [path.join(dir, "src/hop3/hop3.toml")]);
    execFileSync("mkfifo", [path.join(layout.root, "certificates/x.crt")]);
    const e = await exporter({ root: layout.root, interval: 1 });
    // Cycles keep finishing, and the report says what is wrong.
    const first = metricValue(await text(`${e.url}/metrics`), "hop3_health_last_cycle_timestamp_seconds") ?? 0;
    await eventually(async () => (metricValue(await text(`${e.url}/metrics`), "hop3_health_last_cycle_timestamp_seconds") ?? 0) > first + 2, 20_000, "cycles to go on");
    const report = (await (await fetch(`${e.url}/status`)).json()) as JsonReport;
    expect(itemsOf(report)["app:hd-fifo"]!.detail).toBe(`manifest invalid: ${dir}/src/hop3/hop3.toml: cannot be read: not a regular file`);
    expect(itemsOf(report).ssl!.detail).toContain(`cannot read ${layout.root}/certificates/x.crt: not a regular file`);
    expect((await fetch(`${e.url}/-/ready`)).status).toBe(200);
  });
});

describe("a stuck thread pool", () => {
  it("shows in /-/ready when cycles stop finishing, and SIGTERM still ends the process", async () => {
    // A plugin that, from its second run on, reads four FIFOs nobody writes: the four threads
    // of libuv's pool wait for ever, and every file read of the cycle queues behind them.
    const dir = tempDir("hop3-hog-");
    for (let i = 0; i < 4; i++) execFileSync("mkfifo", [path.join(dir, `fifo${i}`)]);
    await writeFile(
      path.join(dir, "hog.mjs"),
      `import { readFile } from "node:fs/promises";
let runs = 0;
export default { name: "hog", getHealthChecks: () => [{ id: "hog", name: "Hog", section: "Apps", isConfigured: () => true,
  check: async () => {
    if (runs++ > 0) for (let i = 0; i < 4; i++) void readFile(${JSON.stringify(dir)} + "/fifo" + i).catch(() => undefined);
    return { name: "Hog", passed: true, message: "fine" };
  } }] };
`,
    );
    const e = await exporter({ interval: 1, config: `plugins = ["${dir}"]\ntimeout = 1\n` });
    await eventually(async () => (await fetch(`${e.url}/-/ready`)).ok, 15_000, "ready after the first cycle");
    const stuck = await eventually(async () => {
      const response = await fetch(`${e.url}/-/ready`);
      return response.status === 503 ? response.text() : undefined;
    }, 20_000, "readiness to see the stopped cycles");
    expect(stuck).toMatch(/^Not ready: no check cycle has finished for \d+s \(cycles stopped\?\)\.\n$/);
    // Node cannot exit while a pool thread is blocked: the process ends itself with SIGKILL, saying why.
    await e.stop("SIGTERM");
    expect(e.process.signalCode).toBe("SIGKILL");
    expect(e.logs().some((l) => l.includes("a check cycle did not end within 5s of the stop"))).toBe(true);
    expect(e.logs().some((l) => l.includes("a file read is stuck in the thread pool (a FIFO?): ending the process with SIGKILL"))).toBe(true);
  }, 60_000);
});

describe("secrets", () => {
  it("are masked in URLs whatever their password holds, in JSON-escaped log lines, and in any kind of detail", () => {
    expect(maskUrlCredentials('got "postgresql://app:Sup3r/raw@db:5432/x"')).toBe('got "postgresql://app:***@db:5432/x"');
    expect(maskUrlCredentials("redis://:p@ss@127.0.0.1:6379 and http://host/a")).toBe("redis://:***@127.0.0.1:6379 and http://host/a");
    const redact = makeRedactor(['pa"ss\\word']);
    expect(redact(JSON.stringify({ msg: 'connecting with pa"ss\\word' }))).toBe('{"msg":"connecting with ***"}');
    const nullProto = Object.assign(Object.create(null) as object, { url: "mysql://u:hidden-pw@db/x" });
    const details = redactDeep(
      { url: new URL("postgresql://u:hidden-pw@db/x"), nullProto, custom: { toJSON: () => "ftp://u:hidden-pw@h/" }, big: 10n ** 20n, fn: () => 1 },
      redact,
    );
    expect(JSON.stringify(details)).not.toContain("hidden-pw");
    expect(details).toMatchObject({ big: "100000000000000000000" });
    expect(printable("app\x1b[31mred\x07")).toBe("app\\x1b[31mred\\x07");
  });

  it("never reach the event log, its API, or an error that echoes a URL", async () => {
    const layout = await makeHop3Layout([{ name: "hd-secret", manifest: '[healthcheck]\npath = "/health"\n[run]\nstart-timeout = 1\n', workers: { web: 1 } }]);
    processes.push(await startAppProcess(layout, "hd-secret", "web", "error"));
    const port = layout.apps.get("hd-secret")!.port!;
    const e = await exporter({ root: layout.root, interval: 30, config: `[apps.hd-secret]\nurl = "http://admin:Url-Pa55word@127.0.0.1:${port}"\n` });
    const probe = await e.operator("POST", "/api/v1/probes", { app: "hd-secret", url: `http://ops:Probe-Pa55word@127.0.0.1:${port}/health`, timeout_seconds: 1 });
    expect(probe.status).toBe(422);
    await eventually(async () => (await text(`${e.url}/api/v1/events`)).includes('"kind":"probe"'), 10_000, "the probe event");
    const served = await text(`${e.url}/api/v1/events`);
    const stored = await readFile(path.join(e.stateDir, "events.jsonl"), "utf8");
    for (const secret of ["Url-Pa55word", "Probe-Pa55word"]) {
      expect(served).not.toContain(secret);
      expect(stored).not.toContain(secret);
      expect(e.logs().join("\n")).not.toContain(secret);
    }
    const { configFile, writeConfig } = await makeHop3Root();
    await writeConfig('[checks.postgresql]\nurl = "postgresql://app:Sup3r/raw@db:5432/x"\n');
    const bad = await runCli(["check-config", configFile]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).not.toContain("Sup3r");
    const badUrl = await runCli(["status", "--url", "http://u:Cli-Pa55@127.0.0.1:1/metrics"]);
    expect(badUrl.stderr).not.toContain("Cli-Pa55");
  });
});

describe("a local client", () => {
  it("cannot grow the event log without end, nor make the start read all of it", async () => {
    const plugin = tempDir("hop3-flip-");
    await writeFile(
      path.join(plugin, "flip.mjs"),
      `let n = 0;
export default { name: "flip", getHealthChecks: () => Array.from({ length: 20 }, (_, i) => ({
  id: "flip-" + i, name: "Flip " + i, section: "Apps", isConfigured: () => true,
  check: async () => { const ok = (n++ / 20 | 0) % 2 === 0; return { name: "Flip " + i, passed: ok, message: ok ? "up" : "down ".repeat(20) }; },
})) };
`,
    );
    const root = tempDir();
    const events = path.join(root, "events.jsonl");
    const e = await exporter({ root, interval: 1, config: `plugins = ["${plugin}"]\nevents = "${events}"\nevents_max_bytes = 4096\nevents_keep = 2\n` });
    await eventually(async () => (await readdir(root)).includes("events.jsonl.2"), 30_000, "two rotations");
    await sleep(2500);
    const files = (await readdir(root)).filter((f) => f.startsWith("events.jsonl")).sort();
    expect(files).toEqual(["events.jsonl", "events.jsonl.1", "events.jsonl.2"]);
    // Rotated once past the limit: at most the limit and one cycle's events.
    for (const file of files) expect((await readFile(path.join(root, file), "utf8")).length).toBeLessThan(3 * 4096);
    // Each file starts with where every check stood: a restart invents no transition.
    const head = JSON.parse((await readFile(path.join(root, "events.jsonl.1"), "utf8")).split("\n")[0]!) as { kind: string; severities: Record<string, string> };
    expect(head.kind).toBe("snapshot");
    expect(Object.keys(head.severities)).toEqual(expect.arrayContaining(["flip-0", "flip-19"]));
    expect(await e.stop()).toBe(0);
    const restartedAt = new Date().toISOString();
    const again = await exporter({ root, interval: 30, config: `plugins = ["${plugin}"]\nevents = "${events}"\nevents_max_bytes = 4096\nevents_keep = 2\n` });
    await eventually(async () => (await fetch(`${again.url}/-/ready`)).ok, 15_000, "ready");
    const since = (await (await fetch(`${again.url}/api/v1/events?kind=transition&since=${restartedAt}`)).json()) as { events: Array<{ check: string; from: string | null }> };
    // Every flip check was known from the snapshot: none is "new" after the restart.
    expect(since.events.filter((ev) => ev.check.startsWith("flip-") && ev.from === null)).toEqual([]);
  });

  it("with wrong passwords cannot starve the scrapes; __proto__ is a user like any other", async () => {
    const hash = await bcrypt.hash("right", 10);
    const e = await exporter({ waitHealthy: false, config: `[web.basic_auth_users]\nprometheus = "${hash}"\n` });
    const auth = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
    await eventually(async () => (await fetch(`${e.url}/-/healthy`, { headers: auth("prometheus", "right") })).ok, 15_000, "healthy");
    expect((await fetch(`${e.url}/metrics`, { headers: auth("__proto__", "x") })).status).toBe(401);
    expect((await fetch(`${e.url}/metrics`, { headers: auth("constructor", "x") })).status).toBe(401);
    // 200 wrong passwords at once: all refused, and a valid scrape still answers.
    const t0 = performance.now();
    const wrong = Array.from({ length: 200 }, (_, i) => fetch(`${e.url}/metrics`, { headers: auth("prometheus", `wrong-${i}`) }).then((r) => r.status));
    const valid = await fetch(`${e.url}/metrics`, { headers: auth("prometheus", "right") });
    // Answered from the cache, without waiting for 200 bcrypt comparisons (before: 14–20 s here).
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(valid.status).toBe(200);
    expect(new Set(await Promise.all(wrong))).toEqual(new Set([401]));

  });

  it("cannot hold connections without end, nor keep a probe polling after it left", async () => {
    const layout = await makeHop3Layout([{ name: "hd-left", manifest: '[healthcheck]\npath = "/health"\n[run]\nstart-timeout = 120\n', workers: { web: 1 } }]);
    const app = await startAppProcess(layout, "hd-left", "web", "unavailable");
    processes.push(app);
    const e = await exporter({ root: layout.root, interval: 30, config: "[web]\nmax_connections = 20\n" });
    // Idle connections beyond the cap are turned away; the exporter goes on serving once they go.
    const idle = await Promise.all(Array.from({ length: 40 }, () => new Promise<net.Socket>((resolve) => {
      const socket = net.connect(e.port, "127.0.0.1", () => resolve(socket));
      socket.on("error", () => resolve(socket));
    })));
    for (const socket of idle) socket.destroy();
    await eventually(async () => (await fetch(`${e.url}/-/healthy`)).ok, 10_000, "serving after the flood");

    // A probe whose client hangs up stops polling.
    const client = http.request({ socketPath: path.join(e.stateDir, "operator.sock"), method: "POST", path: "/api/v1/probes", headers: { "content-type": "application/json" } });
    client.on("error", () => undefined);
    // On a path of its own, so that the app's regular checks (which may come at any time) are not counted as the probe's.
    client.end('{"app": "hd-left", "path": "/probe-left"}');
    const probed = (): number => app.requests().filter((r) => r.path === "/probe-left").length;
    await eventually(() => probed() > 2, 10_000, "the probe to poll");
    client.destroy();
    await sleep(1000);
    const after = probed();
    await sleep(2000);
    expect(probed()).toBe(after);
    expect(metricValue(await text(`${e.url}/metrics`), "hop3_deploy_probe_total", { app: "hd-left" })).toBeUndefined();
  });
});

describe("a plugin", () => {
  it("cannot crash the exporter, break /status with a BigInt, duplicate a metric family, or leak unseen", async () => {
    const dir = tempDir("hop3-rogue-");
    await writeFile(
      path.join(dir, "rogue.mjs"),
      `export default { name: "rogue", getHealthChecks: () => [
  { id: "rogue-reject", name: "Rogue reject", section: "Apps", isConfigured: () => true,
    check: async () => { Promise.reject(new Error("stray")); setTimeout(() => { throw new Error("thrown in a timer"); }, 1); return { name: "Rogue reject", passed: true, message: "fine" }; } },
  { id: "rogue-bigint", name: "Rogue bigint", section: "Apps", isConfigured: () => true,
    check: async () => ({ name: "Rogue bigint", passed: true, message: "big", details: { huge: 12345678901234567890n } }) },
  { id: "rogue-metric", name: "Rogue metric", section: "Apps", isConfigured: () => true,
    check: async () => ({ name: "Rogue metric", passed: true, message: "m", measurements: [{ name: "process_cpu_seconds_total", value: 1 }] }) },
  { id: "rogue-leak", name: "Rogue leak", section: "Apps", isConfigured: () => true,
    check: () => new Promise(() => setInterval(() => undefined, 1000)) },
] };
`,
    );
    const e = await exporter({ interval: 1, config: `plugins = ["${dir}"]\n[checks.rogue-leak]\ntimeout = 0.5\n` });
    await eventually(async () => (await fetch(`${e.url}/-/ready`)).ok, 15_000, "ready");
    await sleep(7000);
    expect(e.process.exitCode).toBeNull();
    const status = await fetch(`${e.url}/status`);
    expect(status.status).toBe(200);
    expect(itemsOf((await status.json()) as JsonReport)["rogue-bigint"]!.details).toEqual({ huge: "12345678901234567890" });
    const metrics = await text(`${e.url}/metrics`);
    expect(metrics.match(/^# TYPE process_cpu_seconds_total /gm)).toHaveLength(1);
    expect(metricValue(metrics, "hop3_exporter_stray_errors_total")).toBeGreaterThanOrEqual(2);
    expect(metricValue(metrics, "hop3_health_check_abandoned", { check: "rogue-leak" })).toBeGreaterThanOrEqual(1);
    expect(e.logs().some((l) => l.includes("check rogue-leak is still running 5s after its timeout"))).toBe(true);
    const json = await runCli(["status", "--json"], { HOP3_HEALTH_PLUGINS: dir, HOP3_ROOT: e.root });
    expect(json.code).not.toBe(3);
  }, 60_000);
});

describe("smaller holes", () => {
  it("are refused at start, or answered right", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    const refused = async (toml: string, message: string): Promise<void> => {
      await writeConfig(toml);
      const result = await runCli(["check-config", configFile]);
      expect(result.code, toml).toBe(3);
      expect(result.stderr, toml).toContain(message);
    };
    await refused(`[web.basic_auth_users]\nprometheus = "$2b$99$${"a".repeat(53)}"\n`, "expected a bcrypt hash with a cost from 04 to 31");
    await refused("timeout = 3000000\n", "timeout: must be at most 86400 seconds (a day)");
    await refused('[probes]\nallowed_hosts = ["http://u:p@db.internal"]\n', "probes.allowed_hosts.0: expected a host name or address, not a URL");

    await requireSharedServers();
    await writeConfig('[checks.redis]\nurl = "redis://127.0.0.1:6379/99"\n');
    const redis = itemsOf(JSON.parse((await runCli(["--config", configFile, "status", "--json"])).stdout) as JsonReport).redis;
    expect(redis).toMatchObject({ severity: "fail", detail: "database 99 does not exist (127.0.0.1:6379)" });

    // An app folder whose name holds an escape sequence reaches the terminal escaped.
    const { root } = await makeHop3Root();
    await mkdir(path.join(root, "apps", "evil\x1b[2Japp"), { recursive: true });
    await writeFile(path.join(root, "hop3-health.toml"), `hop3_root = "${root}"\n[apps."evil\\u001b[2Japp"]\nport = ${await closedPort()}\n`);
    const shown = await runCli(["--config", path.join(root, "hop3-health.toml"), "status"]);
    expect(shown.stdout).not.toContain("\x1b[2J");
    expect(shown.stdout).toContain("evil\\x1b[2Japp");
  });

  it("a cycle every interval, not every interval and a second", async () => {
    const e = await exporter({ interval: 2 });
    const times: number[] = [];
    await eventually(async () => {
      const t = metricValue(await text(`${e.url}/metrics`), "hop3_health_last_cycle_timestamp_seconds") ?? 0;
      if (t > 0 && times.at(-1) !== t) times.push(t);
      return times.length >= 6;
    }, 40_000, "six cycles");
    // Finish to finish, over five gaps: about 2 s; the old one-second tick made it 3.
    const mean = (times.at(-1)! - times[0]!) / (times.length - 1);
    expect(mean).toBeLessThan(2.6);
  });
});
