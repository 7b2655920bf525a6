// App health on a HOP3_ROOT laid out as Hop3 lays it out (see helpers/hop3-layout.ts), with no
// hop3-health configuration for the apps: real processes, real HTTP, `status` and `serve` as a
// user runs them. App names here are this file's own (no other test starts processes with them),
// because a uWSGI procname prefix is matched across the whole process table.

import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { itemsOf, runCli, type JsonReport } from "./helpers/cli.js";
import { closedPort } from "./helpers/servers.js";
import { eventually, metricValue, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { APP_SECRET, makeHop3Layout, respawn, startAppProcess, type AppProcess, type Layout } from "./helpers/hop3-layout.js";

const processes: AppProcess[] = [];
afterAll(async () => {
  await Promise.all(processes.splice(0).map((p) => p.stop()));
});

async function run(layout: Layout, name: string, kind: string, mode: string, env: Record<string, string> = {}): Promise<AppProcess> {
  const started = await startAppProcess(layout, name, kind, mode, env);
  processes.push(started);
  return started;
}

/** `status --json` with nothing configured but HOP3_ROOT (and a config for identity and disk thresholds). */
async function status(layout: Layout, extraConfig = ""): Promise<{ code: number; report: JsonReport; stdout: string; stderr: string }> {
  const config = path.join(layout.root, "status.toml");
  await writeFile(config, `${extraConfig}\n[checks.disk-usage]\nwarn_percent = 99.98\nfail_percent = 99.99\n`);
  const result = await runCli(["--config", config, "status", "--json"], { HOP3_ROOT: layout.root });
  return { ...result, report: JSON.parse(result.stdout) as JsonReport };
}

describe("zero-config status on a Hop3 layout", () => {
  let layout: Layout;
  let blog: AppProcess;

  it("reports every kind of app right", async () => {
    layout = await makeHop3Layout([
      // Django behind ALLOWED_HOSTS, manifest where Hop3 looks first (stands for weblate, pretix).
      { name: "hl-blog", manifest: '[run]\nstart = "gunicorn blog.wsgi"\n\n[healthcheck]\npath = "/health"\n', hostName: "blog.example.com www.blog.example.com", workers: { wsgi: 1 } },
      // No health endpoint, redirects `/` to a login page (stands for gitea's and jenkins' `/login`).
      { name: "hl-wiki", manifest: '[run]\nstart = "node server.js"\n', manifestAt: "src", workers: { web: 1 } },
      // `/` answers 400 by design (stands for isso).
      { name: "hl-isso", manifest: '[healthcheck]\npath = "/"\n', workers: { web: 1 } },
      // `contains` alone: the path is `/`.
      { name: "hl-search", manifest: '[healthcheck]\ncontains = "ready"\n', manifestAt: "app", workers: { wsgi: 1 } },
      { name: "hl-api", manifest: '[healthcheck]\npath = "/health"\ntimeout = 1\n', workers: { web: 1 } },
      { name: "hl-crashed", manifest: '[healthcheck]\npath = "/health"\n', workers: { wsgi: 2 } },
      { name: "hl-stopped", manifest: '[healthcheck]\npath = "/health"\n' },
      { name: "hl-static", port: 0 },
      { name: "hl-worker", workers: { worker: 1 } },
      // A key Hop3 refuses.
      { name: "hl-broken", manifest: '[healthcheck]\npath = "/health"\nexpected_status = 204\n', workers: { web: 1 } },
    ]);
    blog = await run(layout, "hl-blog", "wsgi", "host-check", { EXPECT_HOST: "blog.example.com" });
    await run(layout, "hl-wiki", "web", "redirect");
    await run(layout, "hl-isso", "web", "bad-request");
    await run(layout, "hl-search", "wsgi", "starting");
    await run(layout, "hl-api", "web", "unavailable");
    await run(layout, "hl-worker", "worker", "worker");
    await run(layout, "hl-broken", "web", "starting");

    const { code, report, stdout, stderr } = await status(layout);
    const items = itemsOf(report);
    expect(items["app:hl-blog"]).toMatchObject({ severity: "ok", detail: "answered HTTP 200 at /health", details: { host_header: "blog.example.com" } });
    expect(blog.requests().every((r) => r.host === "blog.example.com")).toBe(true);
    expect(items["app:hl-wiki"]).toMatchObject({ severity: "ok", detail: "answered HTTP 302 at /" });
    expect(items["app:hl-isso"]).toMatchObject({ severity: "fail", detail: "answered HTTP 400 at / (healthy: 200–399; [apps.hl-isso] accept_status widens it) (3 failed probes in a row)" });
    expect(items["app:hl-search"]).toMatchObject({ severity: "ok", detail: "answered HTTP 200 at /" });
    expect(items["app:hl-api"]).toMatchObject({
      severity: "fail",
      detail: "answered HTTP 503 at /health (healthy: 200–399; [apps.hl-api] accept_status widens it) (3 failed probes in a row)",
      details: { reason: "http_status" },
    });
    expect(items["app:hl-crashed"]).toMatchObject({ severity: "fail", detail: "stopped unexpectedly: enabled (wsgi.1, wsgi.2) but no process of the app is running", details: { reason: "not_running" } });
    // Stopped on purpose: a line of its own, ok, never left out.
    expect(items["app:hl-stopped"]).toMatchObject({ severity: "ok", state: "stopped", detail: "stopped (no vassal enabled in uwsgi-enabled/)" });
    // A static site nothing serves (no nginx server block of Hop3's for it) is said to be so.
    expect(items["app:hl-static"]).toMatchObject({ severity: "warn", detail: `static site, but no nginx server block for it (${layout.root}/nginx/hl-static.conf): nothing serves it` });
    expect(items["app:hl-worker"]!.state).toBe("running");
    expect(items["app:hl-worker"]).toMatchObject({ severity: "ok", detail: "running (worker.1; 1 process)" });
    expect(items["app:hl-broken"]).toMatchObject({ severity: "fail", details: { reason: "config" } });
    expect(items["app:hl-broken"]!.detail).toBe(
      `manifest invalid: ${layout.root}/apps/hl-broken/src/hop3/hop3.toml: healthcheck: unknown key "expected_status" (Hop3 refuses it; hop3-health's accept_status goes in its own config, [apps.<name>])`,
    );
    expect(code).toBe(2);
    expect(stdout + stderr).not.toContain(APP_SECRET);
  });

  it("names a failing database as the cause of the apps its LIVE_ENV ties to it, and only of those that fail", async () => {
    // PostgreSQL down (nothing listens there); every app of the layout has a DATABASE_URL.
    const down = await closedPort();
    const { report } = await status(layout, `[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:${down}/shop"\n`);
    const items = itemsOf(report);
    expect(items.postgresql).toMatchObject({ severity: "fail" });
    expect(items["app:hl-api"]!.cause).toEqual([{ check: "postgresql", name: "PostgreSQL", severity: "fail" }]);
    // A healthy app gets none, though it uses the same database.
    expect(items["app:hl-blog"]!.cause).toBeUndefined();
    const config = path.join(layout.root, "status.toml");
    const text = await runCli(["--config", config, "status"], { HOP3_ROOT: layout.root });
    expect(text.stdout).toMatch(/\n {2}hl-api +✗ answered HTTP 503 at \/health .*\(cause: PostgreSQL ✗\)\n/);
    const quiet = await runCli(["--config", config, "status", "--quiet"], { HOP3_ROOT: layout.root });
    expect(quiet.stdout).toContain("(cause: PostgreSQL ✗)");
  });

  it("takes accept_status from [apps.<name>], never from hop3.toml", async () => {
    const { report } = await status(layout, '[apps.hl-isso]\naccept_status = [400, "500-503"]\n');
    expect(itemsOf(report)["app:hl-isso"]).toMatchObject({ severity: "ok", detail: "answered HTTP 400 at /" });
    await writeFile(path.join(layout.root, "bad.toml"), '[apps.x]\naccept_status = ["4xx"]\n');
    const refused = await runCli(["check-config", path.join(layout.root, "bad.toml")], {});
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('apps.x.accept_status.0: expected an HTTP status such as 404, or a range such as "400-499"');
  });
});

describe("serve on a Hop3 layout", () => {
  let exporter: RunningExporter | undefined;
  afterEach(async () => {
    await exporter?.stop("SIGKILL");
    exporter = undefined;
  });

  const severity = async (app: string): Promise<number | undefined> => metricValue(await (await fetch(`${exporter!.url}/metrics`)).text(), "hop3_app_health_severity", { app });
  const eventsOf = async (app: string): Promise<Array<Record<string, unknown>>> =>
    ((await (await fetch(`${exporter!.url}/api/v1/events?check=app:${app}`)).json()) as { events: Array<Record<string, unknown>> }).events;

  it("fails a crashed app within seconds, keeps it failing across a restart, and sees it come back", async () => {
    const layout = await makeHop3Layout([{ name: "hl-shop", manifest: '[healthcheck]\npath = "/health"\ninterval = 60\n', workers: { wsgi: 1 } }]);
    const root = layout.root;
    let shop = await run(layout, "hl-shop", "wsgi", "starting");
    // A long cycle interval: only the app scan can see the crash in time.
    exporter = await startExporter({ root, interval: 60, config: "app_scan_interval = 1" });
    await eventually(async () => (await severity("hl-shop")) === 0, 15_000, "hl-shop to be ok");
    // Its LIVE_ENV's DATABASE_URL says it uses PostgreSQL (the scheme only is read).
    const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(metricValue(metrics, "hop3_app_dependency", { app: "hl-shop", check: "postgresql" })).toBe(1);
    expect(metrics).not.toContain(APP_SECRET);

    // Killed: failing within seconds, though the next cycle is a minute away (bench/app-health.ts measures how soon).
    await shop.stop();
    await eventually(async () => (await severity("hl-shop")) === 2, 20_000, "hl-shop to fail after its process died");
    const report = (await (await fetch(`${exporter.url}/status`)).json()) as JsonReport;
    expect(itemsOf(report)["app:hl-shop"]!.detail).toBe("stopped unexpectedly: enabled (wsgi.1) but no process of the app is running");
    const states = (await eventsOf("hl-shop")).filter((e) => e.kind === "app-state");
    expect(states.map((e) => e.state)).toEqual(["down"]);

    // A restart while it fails: no invented recovery.
    expect(await exporter.stop()).toBe(0);
    exporter = await startExporter({ root, interval: 60, config: "app_scan_interval = 1" });
    await eventually(async () => (await severity("hl-shop")) === 2, 15_000, "hl-shop still failing after the restart");
    const transitions = (await eventsOf("hl-shop")).filter((e) => e.kind === "transition");
    expect(transitions.map((e) => [e.from, e.to])).toEqual([
      [null, "ok"],
      ["ok", "fail"],
    ]);

    // Back: a real recovery, seen by the scan.
    shop = await run(layout, "hl-shop", "wsgi", "starting");
    await eventually(async () => (await severity("hl-shop")) === 0, 10_000, "hl-shop to recover");
    const after = (await eventsOf("hl-shop")).filter((e) => e.kind === "transition");
    expect(after.map((e) => [e.from, e.to]).at(-1)).toEqual(["fail", "ok"]);
  }, 90_000);

  it("sees a deploy by itself: probes the app over its window, counts the verdict, and does not page meanwhile", async () => {
    const layout = await makeHop3Layout(
      [{ name: "hl-deploy", manifest: '[healthcheck]\npath = "/health"\ncontains = "ready"\n[run]\nstart-timeout = 20\n', workers: { web: 1 } }],
      { serverTomlExtra: "APP_START_TIMEOUT = 45" },
    );
    let app = await run(layout, "hl-deploy", "web", "starting");
    exporter = await startExporter({ root: layout.root, interval: 60, config: "app_scan_interval = 0.5" });
    await eventually(async () => (await severity("hl-deploy")) === 0, 15_000, "hl-deploy to be ok");

    // Hop3 respawns it: the old process goes, LIVE_ENV and the vassal are rewritten, the new one
    // answers 503 for 2 s while it starts.
    await app.stop();
    await respawn(layout, "hl-deploy");
    app = await run(layout, "hl-deploy", "web", "starting", { DELAY: "2" });
    const metrics = async (): Promise<string> => (await fetch(`${exporter!.url}/metrics`)).text();
    // While the probe runs, the app is in maintenance by itself: the rules do not page for it.
    const during = await eventually(
      async () => itemsOf((await (await fetch(`${exporter!.url}/status`)).json()) as JsonReport)["app:hl-deploy"]?.maintenance,
      10_000,
      "hl-deploy in maintenance while it deploys",
    );
    expect(during.reason).toBe("deploy: startup probe running");
    await eventually(async () => metricValue(await metrics(), "hop3_health_maintenance", { check: "app:hl-deploy" }) === 1, 10_000, "hop3_health_maintenance 1 during the deploy");
    await eventually(async () => metricValue(await metrics(), "hop3_deploy_probe_total", { app: "hl-deploy", result: "success" }) === 1, 20_000, "the deploy probe to succeed");
    await eventually(async () => metricValue(await metrics(), "hop3_health_maintenance", { check: "app:hl-deploy" }) === 0, 10_000, "no maintenance once deployed");
    const events = await eventsOf("hl-deploy");
    const probe = events.find((e) => e.kind === "probe");
    expect(probe).toMatchObject({ origin: "deploy", result: "success" });
    // Never a failure while it deployed.
    expect(events.filter((e) => e.kind === "transition" && e.to !== "ok")).toEqual([]);
    expect(exporter.logs().some((l) => l.includes("deploy of hl-deploy seen: startup probe for up to 20s"))).toBe(true);

    // A deploy that never comes up: one failed verdict, and the app fails.
    await app.stop();
    await writeFile(path.join(layout.root, "apps/hl-deploy/src/hop3/hop3.toml"), '[healthcheck]\npath = "/health"\n[run]\nstart-timeout = 2\n');
    await respawn(layout, "hl-deploy");
    app = await run(layout, "hl-deploy", "web", "unavailable");
    await eventually(async () => metricValue(await metrics(), "hop3_deploy_probe_total", { app: "hl-deploy", result: "failure" }) === 1, 20_000, "the deploy probe to fail");
    await eventually(async () => (await severity("hl-deploy")) === 2, 10_000, "hl-deploy to fail after its deploy failed");
    const failed = (await eventsOf("hl-deploy")).filter((e) => e.kind === "probe").at(-1);
    expect(failed!.message).toBe("'hl-deploy' did not respond to health checks within 2s (last: HTTP 503)");
    await app.stop();
    // An app that is removed is forgotten.
    await rm(path.join(layout.root, "apps/hl-deploy"), { recursive: true });
    await eventually(async () => (await severity("hl-deploy")) === undefined, 15_000, "the removed app to go");
    expect(await readFile(path.join(layout.root, "hop3-server.toml"), "utf8")).toContain("APP_START_TIMEOUT = 45");
  }, 90_000);
});
