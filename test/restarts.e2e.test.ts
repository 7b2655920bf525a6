// Restart policies against the real thing: Debian's uWSGI Emperor (python3 plugin) watching a temp
// HOP3_ROOT's uwsgi-enabled, vassals written as Hop3 writes them, and tiny WSGI apps that can be
// wedged: a "poison" file makes the running worker answer 500 until it is restarted (as a process
// with a broken pool or cache does), a "broken" file makes every worker answer 500 (a deploy gone
// wrong, which no restart mends). They stand for the catalog's Python web apps (Flask, Django) run
// as `wsgi` workers with an http-socket on their PORT.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemsOf, runCli, tempDir, testServerToml, type JsonReport } from "./helpers/cli.js";
import { eventually, metricValue, sleep, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { stopChild } from "./helpers/processes.js";
import { closedPort } from "./helpers/servers.js";

const hasUwsgi = spawnSync("uwsgi", ["--version"]).status === 0;
if (!hasUwsgi && process.env.CI === "true") throw new Error("uwsgi is needed (apt-get install uwsgi uwsgi-plugin-python3): .ci/run installs them");

const WSGI_APP = `import os
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
poisoned = False

def application(environ, start_response):
    global poisoned
    poison = os.path.join(DATA, "poison")
    if os.path.exists(poison):
        poisoned = True
        try:
            os.remove(poison)
        except OSError:
            pass
    broken = poisoned or os.path.exists(os.path.join(DATA, "broken"))
    start_response("500 Internal Server Error" if broken else "200 OK", [("Content-Type", "text/plain")])
    return [b"broken" if broken else ("ok %d" % os.getpid()).encode()]
`;

const APPS = ["rt-flaky", "rt-broken", "rt-never", "rt-stopped", "rt-maint"] as const;

describe.skipIf(!hasUwsgi)("restart policies on a real uWSGI Emperor", () => {
  const root = tempDir("hop3-restarts-");
  const ports = new Map<string, number>();
  let emperor: ChildProcess | undefined;
  const exporters: RunningExporter[] = [];

  const vassalFile = (app: string): string => path.join(root, "uwsgi-enabled", `${app}_wsgi.1.ini`);
  const answer = async (app: string): Promise<number | undefined> => (await fetch(`http://127.0.0.1:${ports.get(app)}/health`).catch(() => undefined))?.status;
  const CONFIG = `[restart]
failures_before_restart = 2
backoff_initial = "2s"
backoff_max = "8s"
max_restarts = 3
window = "1h"
[apps.rt-flaky]
restart = "on-failure"
[apps.rt-broken]
restart = "on-failure"
[apps.rt-stopped]
restart = "on-failure"
[apps.rt-maint]
restart = "always"
`;

  beforeAll(async () => {
    for (const dir of ["apps", "nginx", "uwsgi-available", "uwsgi-enabled"]) await mkdir(path.join(root, dir), { recursive: true });
    await writeFile(path.join(root, "hop3-server.toml"), testServerToml('HOP3_SECRET_KEY = "restarts-key"'));
    for (const app of APPS) {
      const port = await closedPort();
      ports.set(app, port);
      const dir = path.join(root, "apps", app);
      for (const sub of ["src/hop3", "data", "log", "venv"]) await mkdir(path.join(dir, sub), { recursive: true });
      await writeFile(path.join(dir, "src", "app.py"), WSGI_APP);
      await writeFile(path.join(dir, "src", "hop3", "hop3.toml"), '[healthcheck]\npath = "/health"\ninterval = 1\nretries = 1\n');
      await writeFile(path.join(dir, "venv", "LIVE_ENV"), `APP=${app}\nBIND_ADDRESS=127.0.0.1\nHOME=${root}\nPORT=${port}\nUSER=hop3\n`);
      const lines: Record<string, string> = {
        chdir: path.join(dir, "src"),
        "http-socket": `127.0.0.1:${port}`,
        logto2: path.join(dir, "log", "wsgi.1.log"),
        master: "true",
        module: "app:application",
        plugin: "python3",
        "procname-prefix": `${app}:wsgi:`,
        processes: "1",
      };
      const text = `[uwsgi]\n${Object.keys(lines)
        .sort()
        .map((k) => `${k} = ${lines[k]}`)
        .join("\n")}\n`;
      await writeFile(path.join(root, "uwsgi-available", `${app}_wsgi.1.ini`), text);
      await writeFile(vassalFile(app), text);
    }
    const log = openSync(path.join(root, "uwsgi-emperor.log"), "a");
    emperor = spawn("uwsgi", ["--emperor", path.join(root, "uwsgi-enabled")], { stdio: ["ignore", log, log], cwd: root });
    closeSync(log);
    for (const app of APPS) await eventually(async () => (await answer(app)) === 200, 30_000, `${app} answering`);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(exporters.map((e) => e.stop("SIGKILL")));
    if (emperor) await stopChild(emperor, "SIGINT");
  });

  const poison = (app: string): Promise<void> => writeFile(path.join(root, "apps", app, "data", "poison"), "");
  const restartEvents = async (e: RunningExporter, app: string): Promise<Array<Record<string, unknown>>> =>
    ((await (await fetch(`${e.url}/api/v1/events?check=app:${app}&kind=restart`)).json()) as { events: Array<Record<string, unknown>> }).events;
  const metrics = async (e: RunningExporter): Promise<string> => (await fetch(`${e.url}/metrics`)).text();

  it("restarts a wedged app with backoff until it recovers, gives up on a broken one after the cap, and leaves alone what it must", async () => {
    const e = await startExporter({ root, interval: 1, config: CONFIG });
    exporters.push(e);
    await eventually(async () => (await fetch(`${e.url}/-/ready`)).ok, 20_000, "the first cycle");
    // In maintenance: failing is shown, never restarted.
    expect((await e.operator("POST", "/api/v1/maintenance", { check: "app:rt-maint", for_seconds: 600, reason: "migration" })).status).toBe(200);

    // A wedged app: restarted by touching its vassal, back within backoff_initial + a check.
    const before = await readFile(vassalFile("rt-flaky"), "utf8");
    const wedgedAt = Date.now();
    await Promise.all([poison("rt-flaky"), poison("rt-never"), poison("rt-maint")]);
    await writeFile(path.join(root, "apps", "rt-broken", "data", "broken"), "");
    for (const app of ["rt-flaky", "rt-never", "rt-maint"]) await eventually(async () => (await answer(app)) === 500, 5000, `${app} wedged`);
    await eventually(async () => (await restartEvents(e, "rt-flaky")).some((ev) => ev.result === "recovered"), 30_000, "rt-flaky recovered by its policy");
    const recoveredIn = (Date.now() - wedgedAt) / 1000;
    expect(await answer("rt-flaky")).toBe(200);
    expect(await readFile(vassalFile("rt-flaky"), "utf8")).toBe(before);
    const flaky = await restartEvents(e, "rt-flaky");
    expect(flaky[0]).toMatchObject({ kind: "restart", app: "rt-flaky", policy: "on-failure", attempt: 1, reason: "http_status", next_delay_seconds: 2, state: "restarted" });
    expect(flaky[0]!.message).toMatch(/^restart 1 of at most 3 by policy on-failure \(.*HTTP 500.*\); touched 1 vassal file in uwsgi-enabled; next try in 2 s$/);
    expect(flaky.at(-1)).toMatchObject({ result: "recovered", message: expect.stringMatching(/^recovered after restart [12]$/) as unknown });
    expect(recoveredIn).toBeLessThan(20);
    expect(metricValue(await metrics(e), "hop3_app_restarts_total", { app: "rt-flaky", result: "recovered" })).toBe(1);
    expect(e.logs().some((l) => l.includes('"level":"warn"') && l.includes("rt-flaky: restart 1 of at most 3 by policy on-failure"))).toBe(true);

    // A broken app: restarted 3 times (2 s, 4 s, 8 s apart), still failing, then given up on. Meanwhile its line says so.
    const brokenItem = async (): Promise<{ detail: string }> => itemsOf((await (await fetch(`${e.url}/status`)).json()) as JsonReport)["app:rt-broken"]!;
    await eventually(async () => /^answered HTTP 500 at \/health .* — restarted [12]× by policy, next try in \d+ s$/.test((await brokenItem()).detail), 20_000, "the report saying what the policy does");
    await eventually(async () => metricValue(await metrics(e), "hop3_app_restart_gave_up", { app: "rt-broken" }) === 1, 45_000, "the policy giving up on rt-broken");
    const text = await metrics(e);
    expect(metricValue(text, "hop3_app_restarts_total", { app: "rt-broken", result: "failing" })).toBe(2);
    expect(metricValue(text, "hop3_app_restarts_total", { app: "rt-broken", result: "gave_up" })).toBe(1);
    expect(metricValue(text, "hop3_app_restart_next_seconds", { app: "rt-broken" })).toBeUndefined();
    expect(metricValue(text, "hop3_health_check_failure_reason", { check: "app:rt-broken", reason: "gave_up" })).toBe(1);
    const broken = await restartEvents(e, "rt-broken");
    expect(broken.filter((ev) => ev.state === "restarted").map((ev) => ev.next_delay_seconds)).toEqual([2, 4, 8]);
    expect(broken.at(-1)).toMatchObject({ result: "gave_up", attempt: 3 });
    const report = itemsOf((await (await fetch(`${e.url}/status`)).json()) as JsonReport);
    expect(report["app:rt-broken"]).toMatchObject({ severity: "fail", reason: "gave_up", restarts: { policy: "on-failure", restarts: 3, gave_up: true } });
    expect(report["app:rt-broken"]!.detail).toMatch(/^gave up after 3 restarts in 1 h: last failure answered HTTP 500 at \/health/);
    // No more tries once given up.
    await sleep(5000);
    expect((await restartEvents(e, "rt-broken")).length).toBe(broken.length);

    // Left alone: policy never, and an app in maintenance.
    for (const app of ["rt-never", "rt-maint"]) {
      expect(await restartEvents(e, app)).toEqual([]);
      expect(await answer(app)).toBe(500);
    }
    expect(report["app:rt-maint"]).toMatchObject({ severity: "fail", maintenance: { reason: "migration" } });
    expect(metricValue(text, "hop3_app_restarts_total", { app: "rt-never", result: "recovered" })).toBeUndefined();

    // Hop3's stop (the vassal removed) is never undone.
    await rm(vassalFile("rt-stopped"));
    await eventually(async () => metricValue(await metrics(e), "hop3_app_state", { app: "rt-stopped", state: "stopped" }) === 1, 15_000, "rt-stopped stopped");
    await sleep(4000);
    expect(await restartEvents(e, "rt-stopped")).toEqual([]);
    await expect(readFile(vassalFile("rt-stopped"))).rejects.toThrow();

    // Mended, then `restarts reset`: the policy acts again at once, and the app recovers.
    await rm(path.join(root, "apps", "rt-broken", "data", "broken"));
    const reset = await runCli(["--config", e.configFile, "restarts", "reset", "rt-broken"]);
    expect(reset).toMatchObject({ code: 0, stdout: "restart policy of rt-broken reset: it acts again from a fresh backoff\n" });
    await eventually(async () => metricValue(await metrics(e), "hop3_app_restart_gave_up", { app: "rt-broken" }) === 0, 15_000, "the reset seen");
    const never = await runCli(["--config", e.configFile, "restarts", "reset", "rt-never"]);
    expect(never.stdout).toBe("rt-never has no restart policy (never): nothing to reset\n");

    // A deploy (Hop3 rewrites LIVE_ENV) of an app that does not come up: its startup window is the deploy probe's, not the policy's.
    const restartsBefore = (await restartEvents(e, "rt-flaky")).length;
    const liveEnv = path.join(root, "apps", "rt-flaky", "venv", "LIVE_ENV");
    await writeFile(liveEnv, `${await readFile(liveEnv, "utf8")}DEPLOYED=1\n`);
    await poison("rt-flaky");
    await eventually(() => e.logs().some((l) => l.includes("deploy of rt-flaky seen: startup probe")), 15_000, "the deploy seen");
    await sleep(5000);
    expect((await restartEvents(e, "rt-flaky")).length).toBe(restartsBefore);
  }, 150_000);

  it("with two exporters on one state directory, one restarts and the other only observes", async () => {
    await Promise.all(exporters.splice(0).map((e) => e.stop()));
    const a = await startExporter({ root, interval: 1, config: CONFIG });
    exporters.push(a);
    const b = await startExporter({ root, interval: 1, config: CONFIG });
    exporters.push(b);
    await eventually(() => b.logs().some((l) => l.includes(`another exporter (pid ${a.process.pid}) holds the restart lock`)), 15_000, "the second one only observing");
    for (const e of [a, b]) await eventually(async () => (await fetch(`${e.url}/-/ready`)).ok, 20_000, "the first cycle");
    await poison("rt-flaky");
    await eventually(async () => metricValue(await metrics(a), "hop3_app_restarts_total", { app: "rt-flaky", result: "recovered" }) === 1, 30_000, "one recovery, by the first");
    await sleep(3000);
    expect(metricValue(await metrics(b), "hop3_app_restarts_total", { app: "rt-flaky", result: "recovered" }) ?? 0).toBe(0);
    const touches = (await readFile(path.join(root, "uwsgi-emperor.log"), "utf8")).split("\n").filter((l) => l.includes("rt-flaky_wsgi.1.ini") && /reload|graceful/i.test(l));
    expect(touches.length).toBeGreaterThan(0);
  }, 90_000);
});
