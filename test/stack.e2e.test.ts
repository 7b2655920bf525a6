// The design card's stack where it is the right tool: express answers every endpoint of `serve`
// (404, 405, body limits, errors as JSON), pino writes the log (redaction by field name and by
// value), and neither is loaded by `status` or `--help`. And the app watch between cycles, driven
// by the kernel: inotify sees a vassal go or a LIVE_ENV rewritten even when the periodic scan is
// a minute away.

import { writeFileSync } from "node:fs";
import http from "node:http";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { PassThrough } from "node:stream";
import bcrypt from "bcryptjs";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { createEngine } from "../src/engine/engine.js";
import { createBasicAuth } from "../src/exporter/auth.js";
import { CLI, makeHop3Root, tempDir } from "./helpers/cli.js";
import { eventually, metricValue, sleep, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { makeHop3Layout, respawn, startAppProcess, type AppProcess } from "./helpers/hop3-layout.js";

let exporter: RunningExporter | undefined;
const processes: AppProcess[] = [];
afterEach(async () => {
  await exporter?.stop("SIGKILL");
  exporter = undefined;
});
afterAll(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop()));
});

/** The packages a command loaded (CommonJS ones, as express, pino and node-cron are), written out when it exits. */
async function packagesLoaded(args: string[], env: Record<string, string> = {}, stopAfterMs?: number): Promise<string[]> {
  const dir = tempDir("hop3-loaded-");
  const preload = path.join(dir, "preload.cjs");
  const out = path.join(dir, "loaded.json");
  writeFileSync(
    preload,
    `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify([...new Set(Object.keys(require.cache).map((k) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(k)?.[1]).filter(Boolean))])));\n`,
  );
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["--require", preload, CLI, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: "ignore" });
  if (stopAfterMs !== undefined) setTimeout(() => child.kill("SIGTERM"), stopAfterMs);
  await new Promise((resolve) => child.once("exit", resolve));
  const { readFileSync } = await import("node:fs");
  return JSON.parse(readFileSync(out, "utf8")) as string[];
}

describe("the stack", () => {
  it("serve loads express and pino; status and --help load neither", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    await writeConfig(`listen = "127.0.0.1:0"\n`);
    const served = await packagesLoaded(["--config", configFile, "serve"], {}, 3000);
    expect(served).toEqual(expect.arrayContaining(["express", "pino"]));
    const status = await packagesLoaded(["--config", configFile, "status"]);
    expect(status).not.toContain("express");
    expect(status).not.toContain("pino");
    const help = await packagesLoaded(["--help"]);
    expect(help).toEqual([]);
  });

  it("pino's log: the keys of before, a field named like a secret censored, a configured secret masked wherever it is", async () => {
    const { configFile } = await makeHop3Root('[checks.redis]\nurl = "redis://:Hunter2-redis@127.0.0.1:1"\n');
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
    const engine = await createEngine({ file: configFile, env: {}, logLevel: "debug", logStream: stream });
    engine.logger.info({ app: "blog", password: "plain-field-value", headers: { authorization: "Basic Zm9vOmJhcg==" } }, "connecting with Hunter2-redis");
    engine.logger.child({ check: "redis" }).warn({ error: new Error("connection refused") }, "redis is down");
    engine.logger.debug("debug line");
    engine.logger.trace("not written at debug");
    const lines = chunks
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(Object.keys(lines[0]!)).toEqual(["level", "time", "name", "app", "password", "headers", "msg"]);
    expect(lines[0]).toMatchObject({ level: "info", name: "hop3-health", app: "blog", password: "***", headers: { authorization: "***" }, msg: "connecting with ***" });
    expect(lines[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines[1]).toMatchObject({ level: "warn", check: "redis", error: { type: "Error", message: "connection refused" }, msg: "redis is down" });
    expect(lines[2]).toMatchObject({ level: "debug", msg: "debug line" });
    expect(chunks.join("")).not.toMatch(/Hunter2|plain-field-value|Zm9vOmJhcg/);
  });

  it("express answers what it cannot route or read: 404, 405 with Allow, and JSON errors for bodies and paths", async () => {
    exporter = await startExporter({ config: '[heartbeats.job]\nevery = "1h"\n' });
    const e = exporter;
    const notFound = await fetch(`${e.url}/nope`);
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toMatch(/^Not found\. Try \/, \/metrics, \/status/);
    const wrong = await fetch(`${e.url}/metrics`, { method: "POST" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, HEAD");
    // Over HTTP, a form's content type is never a write (a page on another site can send one).
    const form = await fetch(`${e.url}/api/v1/maintenance`, { method: "POST", headers: { "content-type": "text/plain" }, body: '{"check":"hop3-root","for_seconds":60}' });
    expect(form.status).toBe(415);
    expect(await form.json()).toEqual({ error: "a write takes a JSON body (Content-Type: application/json), not text/plain" });
    // The operator's own requests, over the operator socket: bodies are checked as carefully.
    const post = (body: string, type = "application/json") => e.operator("POST", "/api/v1/maintenance", body, type);
    const plain = await post('{"check":"hop3-root","for_seconds":60}', "text/plain");
    expect(plain).toEqual({ status: 400, body: { error: "send a JSON object with Content-Type: application/json" } });
    const broken = await post('{"check":');
    expect(broken.status).toBe(400);
    expect((broken.body as { error: string }).error).toMatch(/^the body is not JSON: /);
    const large = await post(JSON.stringify({ check: "hop3-root", reason: "x".repeat(20_000) }));
    expect(large).toEqual({ status: 413, body: { error: "the body is larger than 16384 bytes" } });
    const array = await post("[1,2]");
    expect(array.status).toBe(400);
    const badEscape = await fetch(`${e.url}/api/v1/heartbeats/%E0%A4%A`, { method: "POST" });
    expect(badEscape.status).toBe(400);
    expect(((await badEscape.json()) as { error: string }).error).toMatch(/decode/i);
    // Still serving, and no framework banner.
    const metrics = await fetch(`${e.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("x-powered-by")).toBeNull();
    expect(metrics.headers.get("etag")).toBeNull();
  });
});

describe("the app watch between cycles", () => {
  it("sees a vassal disabled and a LIVE_ENV rewritten at once through inotify, with the periodic scan a minute away", async () => {
    const layout = await makeHop3Layout([{ name: "st-inotify", manifest: '[healthcheck]\npath = "/health"\n[run]\nstart-timeout = 10\n', workers: { wsgi: 1 } }]);
    processes.push(await startAppProcess(layout, "st-inotify", "wsgi", "healthy"));
    exporter = await startExporter({ root: layout.root, interval: 600, config: "app_scan_interval = 60\n" });
    const e = exporter;
    const stateEvents = async (): Promise<Array<Record<string, unknown>>> =>
      ((await (await fetch(`${e.url}/api/v1/events?check=app:st-inotify`)).json()) as { events: Array<Record<string, unknown>> }).events;
    await eventually(async () => (await fetch(`${e.url}/-/ready`)).status === 200, 20_000, "the first cycle");

    // Hop3's deploy rewrites LIVE_ENV: a deploy probe starts within seconds.
    const liveEnv = path.join(layout.root, "apps", "st-inotify", "venv", "LIVE_ENV");
    const { readFile } = await import("node:fs/promises");
    await writeFile(liveEnv, `${await readFile(liveEnv, "utf8")}DEPLOYED=1\n`);
    await eventually(async () => (await stateEvents()).some((ev) => ev.kind === "probe" && ev.origin === "deploy"), 15_000, "the deploy probe's verdict");

    // Hop3's stop removes the enabled vassal: stopped, within seconds.
    const started = Date.now();
    await rm(path.join(layout.root, "uwsgi-enabled", "st-inotify_wsgi.1.ini"));
    await eventually(async () => (await stateEvents()).some((ev) => ev.kind === "app-state" && ev.state === "stopped"), 10_000, "the stop seen");
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);
});

describe("a reload during a deploy", () => {
  it("does not wait out the deploy probe's window: the reload answers at once, cycles go on, the verdict still comes", async () => {
    const layout = await makeHop3Layout([{ name: "st-reload", manifest: '[healthcheck]\npath = "/health"\n[run]\nstart-timeout = 30\n', workers: { web: 1 } }]);
    const first = await startAppProcess(layout, "st-reload", "web", "healthy");
    exporter = await startExporter({ root: layout.root, interval: 1 });
    const e = exporter;
    const lastCycle = async (): Promise<number> => metricValue(await (await fetch(`${e.url}/metrics`)).text(), "hop3_health_last_cycle_timestamp_seconds") ?? 0;
    await eventually(async () => (await fetch(`${e.url}/-/ready`)).status === 200, 20_000, "the first cycle");
    // A deploy that does not come up: its probe polls for 30 s.
    await first.stop();
    await respawn(layout, "st-reload");
    processes.push(await startAppProcess(layout, "st-reload", "web", "unavailable"));
    await eventually(() => e.logs().some((l) => l.includes("deploy of st-reload seen: startup probe for up to 30s")), 15_000, "the deploy probe to start");
    const started = Date.now();
    const reload = await e.operator("POST", "/-/reload");
    expect(reload.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    const after = await lastCycle();
    await eventually(async () => (await lastCycle()) > after, 10_000, "cycles going on after the reload, the probe still running");
    await eventually(async () => metricValue(await (await fetch(`${e.url}/metrics`)).text(), "hop3_deploy_probe_total", { app: "st-reload", result: "failure" }) === 1, 45_000, "the probe's verdict");
  }, 90_000);
});

describe("basic auth under a flood of wrong passwords", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("keeps an accepted password accepted, however many wrong ones are compared after it", async () => {
    const auth = createBasicAuth({ prometheus: await bcrypt.hash("right", 4) })!;
    const header = (password: string): string => `Basic ${Buffer.from(`prometheus:${password}`).toString("base64")}`;
    vi.useFakeTimers({ toFake: ["Date"] });
    expect(await auth.check(header("right"), "192.0.2.10")).toBe(true);
    // 1,200 wrong passwords compared (the comparison budget refilled by the clock): more than the cache of refused ones holds.
    let compared = 0;
    for (let i = 0; compared < 1200; i++) {
      vi.setSystemTime(Date.now() + 1000);
      for (let j = 0; j < 4; j++, compared++) expect(await auth.check(header(`wrong-${i}-${j}`), "127.0.0.1")).toBe(false);
    }
    // No comparison is left this second, and the right one needs none.
    for (let j = 0; j < 20; j++) await auth.check(header(`more-${j}`), "127.0.0.1");
    expect(await auth.check(header("right"), "192.0.2.10")).toBe(true);
  });

  it("leaves another address its own comparisons: a flood from one cannot lock out a first scrape from another", async () => {
    const hash = await bcrypt.hash("right", 4);
    exporter = await startExporter({ waitHealthy: false, config: `[web.basic_auth_users]\nprometheus = "${hash}"\n` });
    const e = exporter;
    const get = (password: string, localAddress: string): Promise<number> =>
      new Promise((resolve) => {
        const req = http.get({ host: "127.0.0.1", port: e.port, path: "/-/healthy", localAddress, headers: { authorization: `Basic ${Buffer.from(`prometheus:${password}`).toString("base64")}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", () => resolve(0));
      });
    await eventually(async () => (await get("wrong-first", "127.0.0.1")) === 401, 20_000, "the exporter up");
    // A tenant on 127.0.0.1 sends a stream of new wrong passwords; Prometheus comes from 127.0.0.2 for the first time.
    let flooding = true;
    let sent = 0;
    const flood = (async () => {
      while (flooding) await Promise.all(Array.from({ length: 20 }, () => get(`wrong-${sent++}`, "127.0.0.1")));
    })();
    await sleep(1500);
    const first = await get("right", "127.0.0.2");
    flooding = false;
    await flood;
    expect(sent).toBeGreaterThan(100);
    expect(first).toBe(200);
  });
});
