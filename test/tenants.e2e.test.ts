// Attacks a Hop3 tenant (its own app folder and processes, code running on this host) or any local
// user can make, each reproduced against a real `serve`, with the behaviour that must hold instead.

import { execFileSync, spawn } from "node:child_process";
import { chmod, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import bcrypt from "bcryptjs";
import { chromium } from "playwright-core";
import { afterEach, describe, expect, it } from "vitest";
import { CLI, runCli, tempDir } from "./helpers/cli.js";
import { eventually, metricValue, sleep, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { makeHop3Layout, respawn, startAppProcess, type AppProcess } from "./helpers/hop3-layout.js";
import { closedPort } from "./helpers/servers.js";

let exporters: RunningExporter[] = [];
let processes: AppProcess[] = [];
afterEach(async () => {
  await Promise.all(exporters.map((e) => e.stop("SIGKILL")));
  await Promise.all(processes.map((p) => p.stop()));
  exporters = [];
  processes = [];
});

async function exporter(options: Parameters<typeof startExporter>[0]): Promise<RunningExporter> {
  const e = await startExporter(options);
  exporters.push(e);
  return e;
}

const text = async (url: string): Promise<string> => (await fetch(url)).text();

/** A request with headers fetch() will not send (Host), as a browser under DNS rebinding sends them. */
function raw(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("one app's manifest", () => {
  it("with start-timeout = 1e400 and a respawn is that app's 'manifest invalid': scrapes, cycles and reloads go on for everyone", async () => {
    // Two apps as the catalog's Flask and Django apps are laid out: one healthy, one whose owner wrote an absurd window.
    const layout = await makeHop3Layout([
      { name: "tn-good", manifest: '[healthcheck]\npath = "/health"\n', workers: { web: 1 } },
      { name: "tn-evil", manifest: '[healthcheck]\npath = "/health"\n', workers: { web: 1 } },
    ]);
    processes.push(await startAppProcess(layout, "tn-good", "web", "healthy"), await startAppProcess(layout, "tn-evil", "web", "healthy"));
    const e = await exporter({ root: layout.root, interval: 1 });
    await eventually(async () => metricValue(await text(`${e.url}/metrics`), "hop3_health_severity", { check: "app:tn-evil" }) === 0, 20_000, "both apps ok");
    await writeFile(path.join(layout.root, "apps/tn-evil/src/hop3/hop3.toml"), '[healthcheck]\npath = "/health"\n[run]\nstart-timeout = 1e400\n');
    await respawn(layout, "tn-evil");
    await eventually(async () => metricValue(await text(`${e.url}/metrics`), "hop3_health_severity", { check: "app:tn-evil" }) === 2, 20_000, "the tenant's app failing");
    const status = (await (await fetch(`${e.url}/status`)).json()) as { sections: Array<{ items: Array<{ check: string; severity: string; detail: string }> }> };
    const items = new Map(status.sections.flatMap((s) => s.items).map((i) => [i.check, i]));
    expect(items.get("app:tn-evil")!.detail).toMatch(/^manifest invalid: .*hop3\.toml: run\.start-timeout: expected a number of seconds, got Infinity$/);
    expect(items.get("app:tn-good")!.severity).toBe("ok");
    for (const endpoint of ["/metrics", "/status", "/", "/-/ready"]) expect((await fetch(`${e.url}${endpoint}`)).status).toBe(200);
    const reload = await e.operator("POST", "/-/reload");
    expect(reload.status).toBe(200);
    const cycle = metricValue(await text(`${e.url}/metrics`), "hop3_health_last_cycle_timestamp_seconds")!;
    await eventually(async () => metricValue(await text(`${e.url}/metrics`), "hop3_health_last_cycle_timestamp_seconds")! > cycle, 10_000, "cycles after the reload");
  }, 60_000);
});

describe("writes from this host", () => {
  it("need authority: an app's code on loopback cannot open maintenance, forge a beat, reload or count a probe", async () => {
    const e = await exporter({ config: `[heartbeats.backups]\nevery = "1h"\n[apps.tn-any]\nport = ${await closedPort()}\n` });
    const post = (route: string, body?: unknown): Promise<Response> =>
      fetch(`${e.url}${route}`, { method: "POST", ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
    for (const [route, body] of [
      ["/api/v1/maintenance", { check: "postgresql", for_seconds: 2_592_000, reason: "silenced by a tenant" }],
      ["/api/v1/heartbeats/backups", undefined],
      ["/-/reload", undefined],
      ["/api/v1/probes", { app: "tn-any" }],
    ] as const) {
      const answer = await post(route, body);
      expect(answer.status, route).toBe(403);
      expect(((await answer.json()) as { error: string }).error, route).toMatch(/need authority: on this host, the hop3-health command \(it speaks over the operator socket in the state directory\); over HTTP, basic auth or a client certificate/);
    }
    expect(((await (await fetch(`${e.url}/api/v1/maintenance`)).json()) as { windows: unknown[] }).windows).toEqual([]);
    expect(metricValue(await text(`${e.url}/metrics`), "hop3_health_config_last_reload_successful")).toBe(1);
    // The operator socket: the exporter's user and group only, in a directory no one else may enter.
    expect((await stat(path.join(e.stateDir, "operator.sock"))).mode & 0o777).toBe(0o660);
    expect((await stat(e.stateDir)).mode & 0o777).toBe(0o750);
    expect((await stat(path.join(e.stateDir, "heartbeat-tokens.json"))).mode & 0o777).toBe(0o600);
    // The operator's command goes through it, and the window is open at once.
    const started = await runCli(["--config", e.configFile, "maintenance", "start", "hop3-root", "--for", "10m", "--reason", "by the operator"]);
    expect(started.code).toBe(0);
    expect(((await (await fetch(`${e.url}/api/v1/maintenance`)).json()) as { windows: Array<{ check: string }> }).windows.map((w) => w.check)).toEqual(["hop3-root"]);
    expect(e.logs().some((l) => l.includes("maintenance of hop3-root until"))).toBe(true);
    expect((await stat(path.join(e.stateDir, "maintenance.json"))).mode & 0o777).toBe(0o600);
  });

  it("from a page on another site are refused, in Chromium, even with the operator's basic auth at hand; a rebound name is 421", async () => {
    const hash = await bcrypt.hash("operator-pass", 4);
    const e = await exporter({ waitHealthy: false, config: `[web.basic_auth_users]\nops = "${hash}"\n[heartbeats.backups]\nevery = "1h"\n` });
    const credentials = `Basic ${Buffer.from("ops:operator-pass").toString("base64")}`;
    await eventually(async () => (await fetch(`${e.url}/-/ready`, { headers: { authorization: credentials } })).ok, 20_000, "the first cycle");
    const reloadedAt = async (): Promise<number | undefined> =>
      metricValue(await (await fetch(`${e.url}/metrics`, { headers: { authorization: credentials } })).text(), "hop3_health_config_last_reload_success_timestamp_seconds");
    const before = await reloadedAt();
    // The attacker's page, on another origin: a form post, a no-cors fetch with credentials.
    const evil = http.createServer((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(`<form id="f" method="POST" action="${e.url}/-/reload" enctype="text/plain"><input name="x" value="y"></form>
<script>
fetch("${e.url}/api/v1/heartbeats/backups", { method: "POST", mode: "no-cors", credentials: "include" }).finally(() => {
  fetch("${e.url}/api/v1/maintenance", { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: '{"check":"hop3-root","for_seconds":600}' })
    .finally(() => document.getElementById("f").submit());
});
</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", () => resolve()));
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-background-networking"] });
    try {
      const context = await browser.newContext({ httpCredentials: { username: "ops", password: "operator-pass" } });
      const page = await context.newPage();
      // The operator had the status page open (the browser holds the credentials).
      expect((await page.goto(`${e.url}/`))?.status()).toBe(200);
      const port = (evil.address() as { port: number }).port;
      await page.goto(`http://localhost:${port}/`);
      await page.waitForURL(`${e.url}/-/reload`, { timeout: 10_000 });
      expect(await page.textContent("body")).toContain("from another site");
    } finally {
      await browser.close();
      evil.close();
    }
    await sleep(500);
    expect(await reloadedAt()).toBe(before);
    const status = (await (await fetch(`${e.url}/status`, { headers: { authorization: credentials } })).json()) as { sections: Array<{ items: Array<{ check: string; detail: string; maintenance?: unknown }> }> };
    const items = new Map(status.sections.flatMap((s) => s.items).map((i) => [i.check, i]));
    expect(items.get("heartbeat:backups")!.detail).toMatch(/^waiting for its first beat/);
    expect(items.get("hop3-root")!.maintenance).toBeUndefined();

    // DNS rebinding: a browser asking by a name this exporter does not answer to; Prometheus by any name still scrapes.
    const rebound = await raw(`${e.url}/metrics`, "GET", { host: `attacker.example:${e.port}`, "user-agent": "Mozilla/5.0", "sec-fetch-site": "same-origin", authorization: credentials });
    expect(rebound.status).toBe(421);
    expect(JSON.parse(rebound.body)).toEqual({ error: 'this exporter does not answer to the host "attacker.example" (add it to [web] hosts)' });
    expect((await raw(`${e.url}/metrics`, "GET", { host: `localhost:${e.port}`, "user-agent": "Mozilla/5.0", authorization: credentials })).status).toBe(200);
    expect((await raw(`${e.url}/metrics`, "GET", { host: `${os.hostname()}:${e.port}`, "user-agent": "Mozilla/5.0", authorization: credentials })).status).toBe(200);
    expect((await raw(`${e.url}/metrics`, "GET", { host: "hop3-1.example.com:9483", "user-agent": "Prometheus/2.42.0", authorization: credentials })).status).toBe(200);
    // With credentials, a write from a program (no browser's Origin) is the operator's.
    expect((await fetch(`${e.url}/-/reload`, { method: "POST", headers: { authorization: credentials } })).status).toBe(200);
    // A beat without the job's token needs the operator's credentials (basic auth is on); the ping URL needs none, even as a form's post.
    expect((await fetch(`${e.url}/api/v1/heartbeats/backups`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${e.url}/api/v1/heartbeats/backups`, { method: "POST", headers: { authorization: credentials } })).status).toBe(200);
    const ping = await e.pingUrl("backups");
    expect((await fetch(ping, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "done=1" })).status).toBe(200);
    expect((await fetch(`${e.url}/api/v1/heartbeats/backups/not-its-token`, { method: "POST" })).status).toBe(403);
  }, 60_000);
});

describe("the state directory", () => {
  it("is refused at start when another user can write it, saying how to fix it", async () => {
    const root = tempDir();
    const state = tempDir("hop3-health-state-");
    await chmod(state, 0o777);
    const config = path.join(root, "c.toml");
    await writeFile(config, `hop3_root = "${root}"\nstate_dir = "${state}"\nlisten = "127.0.0.1:${await closedPort()}"\n`);
    const result = await runCli(["--config", config, "serve"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`state directory ${state} can be written by other users (mode 0777): whoever writes there could act as the operator; (chown ${os.userInfo().username} ${state} && chmod 0750 ${state}), or set state_dir (HOP3_HEALTH_STATE_DIR)`);
  });

  it("is not HOP3_ROOT by default: a user who cannot write /var/lib gets $XDG_STATE_HOME/hop3-health, and nothing is written in HOP3_ROOT", async () => {
    const root = tempDir();
    const home = tempDir("hop3-health-home-");
    await chmod(root, 0o755);
    await chmod(home, 0o777);
    await mkdir(path.join(root, "apps"));
    const before = await readdir(root);
    const port = await closedPort();
    const child = spawn(process.execPath, [CLI, "serve"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, XDG_STATE_HOME: path.join(home, "state"), HOP3_ROOT: root, HOP3_HEALTH_LISTEN: `127.0.0.1:${port}`, HOP3_HEALTH_INTERVAL: "1" },
      uid: 65534,
      gid: 65534,
      stdio: "ignore",
    });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok, 20_000, "serve as nobody");
      const dir = path.join(home, "state", "hop3-health");
      await eventually(async () => (await readFile(path.join(dir, "events.jsonl"), "utf8")).includes('"kind":"transition"'), 10_000, "the event log in the XDG state directory");
      expect((await lstat(path.join(dir, "operator.sock"))).isSocket()).toBe(true);
      expect(await readdir(root)).toEqual(before);
    } finally {
      child.kill("SIGKILL");
    }
  }, 40_000);

  it("files planted there cannot freeze, flood or redirect serve: a FIFO, a link to /dev/zero, a link at the event log", async () => {
    const state = tempDir("hop3-health-state-");
    await chmod(state, 0o750);
    const victim = path.join(tempDir(), "root-only");
    await writeFile(victim, "precious\n", { mode: 0o600 });
    execFileSync("mkfifo", [path.join(state, "maintenance.json")]);
    await symlink("/dev/zero", path.join(state, "heartbeats.json"));
    await symlink(victim, path.join(state, "events.jsonl"));
    const e = await exporter({ config: `state_dir = "${state}"\n[heartbeats.backups]\nevery = "1h"\n` });
    await eventually(async () => (await fetch(`${e.url}/-/ready`)).ok, 20_000, "the first cycle");
    const status = (await (await fetch(`${e.url}/status`)).json()) as { sections: Array<{ items: Array<{ check: string; detail: string }> }> };
    const beat = status.sections.flatMap((s) => s.items).find((i) => i.check === "heartbeat:backups")!;
    expect(beat.detail).toContain(`heartbeats file ${path.join(state, "heartbeats.json")} cannot be read (ELOOP)`);
    expect(e.logs().some((l) => l.includes(`event log ${path.join(state, "events.jsonl")} cannot`) && l.includes("ELOOP"))).toBe(true);
    const rss = metricValue(await text(`${e.url}/metrics`), "process_resident_memory_bytes")!;
    expect(rss).toBeLessThan(200 * 1024 * 1024);
    // A window opened by the operator replaces the FIFO with a file of its own; a link at any temporary name is never followed.
    await symlink(victim, path.join(state, `maintenance.json.${e.process.pid}.tmp`));
    expect((await e.operator("POST", "/api/v1/maintenance", { check: "hop3-root", for_seconds: 60 })).status).toBe(200);
    expect((await lstat(path.join(state, "maintenance.json"))).isFile()).toBe(true);
    expect(await readFile(victim, "utf8")).toBe("precious\n");
    // And it stops on SIGTERM, cleanly.
    expect(await e.stop("SIGTERM")).toBe(0);
  }, 40_000);
});

describe("the process table", () => {
  it("full of 1.8 MB command lines (any local user can make them) costs a bounded read each: no check times out, nothing fails falsely", async () => {
    const layout = await makeHop3Layout([{ name: "tn-proc", manifest: '[healthcheck]\npath = "/health"\n', workers: { web: 1 } }]);
    processes.push(await startAppProcess(layout, "tn-proc", "web", "healthy"));
    const e = await exporter({ root: layout.root, interval: 1 });
    await eventually(async () => metricValue(await text(`${e.url}/metrics`), "hop3_health_severity", { check: "app:tn-proc" }) === 0, 20_000, "the app ok");
    const notOk = async (): Promise<string[]> =>
      ((await (await fetch(`${e.url}/status`)).json()) as { sections: Array<{ items: Array<{ check: string; severity: string; detail: string }> }> }).sections
        .flatMap((s) => s.items)
        .filter((i) => i.severity !== "ok")
        .map((i) => `${i.check}: ${i.detail}`);
    // What this machine says of itself before (a layout whose hop3 user and MySQL password it does not have).
    const before = await notOk();
    const argument = "x".repeat(120 * 1024);
    const flood = Array.from({ length: 100 }, () => spawn("/bin/sh", ["-c", "sleep 60; :", "flood", ...Array.from({ length: 15 }, () => argument)], { stdio: "ignore", env: {} }));
    try {
      await sleep(1000);
      expect((await readFile(`/proc/${flood[0]!.pid}/cmdline`)).length).toBeGreaterThan(1_800_000);
      const cycle = metricValue(await text(`${e.url}/metrics`), "hop3_health_last_cycle_timestamp_seconds")!;
      await eventually(async () => metricValue(await text(`${e.url}/metrics`), "hop3_health_last_cycle_timestamp_seconds")! >= cycle + 3, 20_000, "three cycles with the flood");
      const during = await notOk();
      expect(during).toEqual(before);
      expect(during.join("\n")).not.toMatch(/timed out/);
      expect(metricValue(await text(`${e.url}/metrics`), "hop3_health_severity", { check: "app:tn-proc" })).toBe(0);
      expect(metricValue(await text(`${e.url}/metrics`), "process_resident_memory_bytes")!).toBeLessThan(150 * 1024 * 1024);
    } finally {
      for (const child of flood) child.kill("SIGKILL");
    }
  }, 60_000);
});
