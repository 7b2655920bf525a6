// The deploy-time startup probe and the continuous app checks, against real HTTP apps started
// here on free ports.

import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { readManifest } from "../src/hop3/manifest.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { eventually, metricValue, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { stopChild } from "./helpers/processes.js";
import { makeHop3Layout, startAppProcess } from "./helpers/hop3-layout.js";
import { closedPort } from "./helpers/servers.js";

const APP = fileURLToPath(new URL("./fixtures/app.mjs", import.meta.url));

interface TestApp {
  port: number;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((f) => f()));
});

/** A real HTTP app on a free port, behaving as MODE says (see fixtures/app.mjs). */
async function startApp(mode: string, delaySeconds = 0, port?: number): Promise<TestApp> {
  const chosen = port ?? (await closedPort());
  const child: ChildProcess = spawn(process.execPath, [APP], {
    env: { MODE: mode, DELAY: String(delaySeconds), PORT: String(chosen) },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  // Modes that listen at once say so; late-listen does not, on purpose.
  if (mode !== "late-listen") await new Promise((resolve) => child.once("message", resolve));
  const app: TestApp = { port: chosen, stop: () => stopChild(child) };
  cleanups.push(() => app.stop());
  return app;
}

/** A HOP3_ROOT with one app `web`: its hop3.toml where Hop3 looks for it, and its venv/LIVE_ENV (or the legacy ENV). */
async function rootWithApp(manifest: string, port?: number, root = tempDir(), envFile: "venv/LIVE_ENV" | "ENV" = "venv/LIVE_ENV"): Promise<string> {
  const dir = path.join(root, "apps", "web");
  await mkdir(path.join(dir, "src", "hop3"), { recursive: true });
  await mkdir(path.join(dir, "venv"), { recursive: true });
  await writeFile(path.join(dir, "src", "hop3", "hop3.toml"), manifest);
  if (port !== undefined) await writeFile(path.join(dir, envFile), `APP=web\nBIND_ADDRESS=127.0.0.1\nPORT=${port}\nSECRET_KEY=a=b c\n`);
  return root;
}

async function probe(root: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // No exporter on this config's port: the command probes by itself.
  const config = path.join(root, "probe.toml");
  await writeFile(config, `hop3_root = "${root}"\nlisten = "127.0.0.1:${await closedPort()}"\n`);
  return runCli(["--config", config, "probe", "web", ...args]);
}

const MANIFEST = '[healthcheck]\npath = "/health"\ncontains = "ready"\ntimeout = 1\n[run]\nstart-timeout = 2\n';

describe("hop3-health probe", () => {
  it("succeeds once an app that starts slowly answers", async () => {
    const port = await closedPort();
    const root = await rootWithApp('[healthcheck]\npath = "/health"\ncontains = "ready"\n[run]\nstart-timeout = 15\n', port);
    await startApp("late-listen", 2, port);
    const result = await probe(root);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^'web' answered HTTP 200 on \/health after \d+\.\ds \(\d+ attempts?\)\n$/);
    expect(result.stderr).toContain("the verdict was not recorded");
  });

  it("fails loudly, saying what it saw last: 500, silence, a wrong body, a refused connection, an app that died", async () => {
    const cases: Array<[string, string]> = [
      ["error", "HTTP 500"],
      ["silent", "timed out"],
      ["wrong-body", 'HTTP 200 without "ready" in its first 256 KiB'],
      ["die", "connection refused"],
    ];
    await Promise.all(
      cases.map(async ([mode, last]) => {
        const app = await startApp(mode, 0.5);
        const root = await rootWithApp(MANIFEST, app.port);
        const result = await probe(root);
        expect(result.code, mode).toBe(2);
        expect(result.stdout, mode).toBe(`'web' did not respond to health checks within 2s (last: ${last})\n`);
      }),
    );
    const root = await rootWithApp(MANIFEST, await closedPort());
    expect((await probe(root)).stdout).toBe("'web' did not respond to health checks within 2s (last: connection refused)\n");
  });

  it("says the app's last answer, not the wait the window's end cut short", async () => {
    // Its request timeout (5 s) outlasts the window (2 s): the second attempt is cut short by the window, not by the app.
    const app = await startApp("error-then-silent");
    const root = await rootWithApp('[healthcheck]\npath = "/health"\ntimeout = 5\n[run]\nstart-timeout = 2\n', app.port);
    const result = await probe(root);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("'web' did not respond to health checks within 2s (last: HTTP 500)\n");
  });

  it("takes --port, --path, --contains and --timeout over the manifest", async () => {
    const app = await startApp("wrong-body");
    const root = await rootWithApp(MANIFEST, await closedPort());
    const result = await probe(root, "--port", String(app.port), "--path", "/anything", "--contains", "hello", "--timeout", "3");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^'web' answered HTTP 200 on \/anything/);
    const viaUrl = await probe(root, "--url", `http://127.0.0.1:${app.port}/x`, "--contains", "nothing-like-this", "--timeout", "1");
    expect(viaUrl.stdout).toBe(`'web' did not respond to health checks within 1s (last: HTTP 200 without "nothing-like-this" in its first 256 KiB)\n`);
  });

  it("reads hop3.toml's edge cases, and names the file and key of a bad one", async () => {
    const app = await startApp("starting");
    // The legacy key, a path without its leading slash, and the legacy ENV file.
    const legacy = await rootWithApp('[run]\nhealthcheck = "health"\nstart = "gunicorn app"\n', app.port, tempDir(), "ENV");
    expect((await probe(legacy)).stdout).toMatch(/^'web' answered HTTP 200 on \/health/);

    // No endpoint declared: as Hop3's deploy does, any HTTP answer at / counts.
    const none = await rootWithApp('[run]\nstart = "gunicorn app"\n', app.port);
    const noEndpoint = await probe(none);
    expect(noEndpoint.code).toBe(0);
    expect(noEndpoint.stdout).toMatch(/^'web' answered HTTP 200 on \/ after/);

    const badType = await rootWithApp('[healthcheck]\npath = "/health"\ntimeout = "5s"\n', app.port);
    const typed = await probe(badType);
    expect(typed.code).toBe(3);
    expect(typed.stderr).toBe(`hop3-health: manifest invalid: ${badType}/apps/web/src/hop3/hop3.toml: healthcheck.timeout: expected a whole number, got "5s"\n`);

    const unknown = await rootWithApp('[healthcheck]\npth = "/health"\npath = "/h"\n', app.port);
    expect((await probe(unknown)).stderr).toBe(`hop3-health: manifest invalid: ${unknown}/apps/web/src/hop3/hop3.toml: healthcheck: unknown key "pth"\n`);

    // No start-timeout: the window is APP_START_TIMEOUT of hop3-server.toml.
    const serverWide = await rootWithApp('[healthcheck]\npath = "/health"\n', (await startApp("error")).port);
    await writeFile(path.join(serverWide, "hop3-server.toml"), 'HOP3_SECRET_KEY = "k"\nAPP_START_TIMEOUT = 1\n');
    expect((await probe(serverWide)).stdout).toBe("'web' did not respond to health checks within 1s (last: HTTP 500)\n");

    const noPort = await rootWithApp(MANIFEST);
    expect((await probe(noPort)).stderr).toBe(
      `hop3-health: no port known for 'web': no PORT in ${noPort}/apps/web/venv/LIVE_ENV or ${noPort}/apps/web/ENV, and no --port, --url or [apps.web] port\n`,
    );
    expect((await probe(noPort, "--port", "99999")).code).toBe(3);
    expect((await runCli(["probe"])).code).toBe(3);

    // The manifest's `contains` is quoted as text: terminal escapes in it (erase the line, print a fake OK) are shown, not obeyed.
    const escapes = await rootWithApp('[healthcheck]\npath = "/health"\ncontains = "\\u001b[2K\\u001b[1GOK"\n[run]\nstart-timeout = 1\n', (await startApp("wrong-body")).port);
    const escaped = await probe(escapes);
    expect(escaped.code).toBe(2);
    expect(escaped.stdout).toContain('without "\\x1b[2K\\x1b[1GOK"');
    expect(escaped.stdout).not.toContain("\u001b");

    // Hop3's order: src/hop3/hop3.toml first, then src/hop3.toml, then hop3.toml beside src/.
    const srcRoot = tempDir();
    const appDir = path.join(srcRoot, "apps/web");
    await mkdir(path.join(appDir, "src/hop3"), { recursive: true });
    await writeFile(path.join(appDir, "hop3.toml"), '[healthcheck]\npath = "/beside"\n');
    expect((await readManifest(appDir))?.path).toBe("/beside");
    await writeFile(path.join(appDir, "src/hop3.toml"), '[healthcheck]\npath = "/ready"\ninterval = 10\nretries = 5\n[run]\nstart-timeout = 90\n');
    expect(await readManifest(appDir)).toEqual({ file: path.join(appDir, "src/hop3.toml"), path: "/ready", interval: 10, retries: 5, startTimeout: 90 });
    await writeFile(path.join(appDir, "src/hop3/hop3.toml"), '[healthcheck]\ncontains = "pong"\n');
    expect(await readManifest(appDir)).toEqual({ file: path.join(appDir, "src/hop3/hop3.toml"), path: "/", contains: "pong" });
  });
});

describe("POST /api/v1/probes", () => {
  let exporter: RunningExporter;
  afterEach(async () => {
    await exporter.stop("SIGKILL");
  });

  it("runs the probe, answers 200 or 422, counts it, logs it, and refuses bad requests", async () => {
    const good = await startApp("starting");
    const bad = await startApp("error");
    const root = await rootWithApp(MANIFEST, good.port);
    exporter = await startExporter({ root, interval: 30 });
    // A probe that counts is the operator's: over the operator socket, as `hop3-health probe` asks.
    const post = async (body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const answer = await exporter.operator("POST", "/api/v1/probes", body);
      return { status: answer.status, json: answer.body as Record<string, unknown> };
    };
    // Over HTTP with no basic auth, from this host too, it is refused; one that is not counted is only a question.
    const overHttp = (body: unknown): Promise<Response> => fetch(`${exporter.url}/api/v1/probes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const refused = await overHttp({ app: "web" });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toMatch(/^deploy probes that are counted need authority/);
    expect((await overHttp({ app: "web", record: false })).status).toBe(200);

    const ok = await post({ app: "web" });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ app: "web", result: "success", recorded: true, last: "HTTP 200", url: `http://127.0.0.1:${good.port}/health` });
    const failed = await post({ app: "web", port: bad.port, timeout_seconds: 1 });
    expect(failed.status).toBe(422);
    expect(failed.json).toMatchObject({ result: "failure", message: "'web' did not respond to health checks within 1s (last: HTTP 500)" });

    expect((await post({})).json.error).toBe("app: app is required");
    expect((await post({ app: "web", port: 1, url: "http://127.0.0.1:1" })).json.error).toBe("give url or port, not both");
    expect((await post({ app: "web", url: "http://192.0.2.1:80/health" })).json.error).toMatch(/^192\.0\.2\.1 is not this host/);
    expect((await post({ app: "../../etc" })).status).toBe(400);
    expect((await post({ app: "web", extra: 1 })).status).toBe(400);
    const notJson = await fetch(`${exporter.url}/api/v1/probes`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(notJson.status).toBe(400);

    // The CLI goes through the exporter, so its verdict is counted too.
    const viaCli = await runCli(["--config", exporter.configFile, "probe", "web"]);
    expect(viaCli.code).toBe(0);
    expect(viaCli.stderr).toBe("");

    const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(metricValue(metrics, "hop3_deploy_probe_total", { app: "web", result: "success" })).toBe(2);
    expect(metricValue(metrics, "hop3_deploy_probe_total", { app: "web", result: "failure" })).toBe(1);
    expect(metricValue(metrics, "hop3_deploy_probe_duration_seconds_count", { app: "web" })).toBe(3);
    expect(metricValue(metrics, "hop3_deploy_probe_duration_seconds_bucket", { app: "web", le: "2.5" })).toBe(3);

    const events = (await (await fetch(`${exporter.url}/api/v1/events?check=app:web&kind=probe`)).json()) as { events: Array<Record<string, unknown>> };
    expect(events.events.map((e) => [e.kind, e.result])).toEqual([
      ["probe", "success"],
      ["probe", "failure"],
      ["probe", "success"],
    ]);
    expect(exporter.logs().some((l) => l.includes('"level":"error"') && l.includes("did not respond to health checks within 1s"))).toBe(true);
  });

  it("is not fooled by whatever answers on the exporter's port: the command asks over the operator socket", async () => {
    // A tenant's fake exporter on the listen port, saying every probe succeeded.
    const fake = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ app: "web", result: "success", message: "'web' is up (fake)", duration_seconds: 0 }));
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", () => resolve()));
    const bad = await startApp("error");
    const root = await rootWithApp(MANIFEST, bad.port);
    const config = path.join(root, "cli.toml");
    await writeFile(config, `hop3_root = "${root}"\nstate_dir = "${root}.state"\nlisten = "127.0.0.1:${(fake.address() as net.AddressInfo).port}"\n`);
    const result = await runCli(["--config", config, "probe", "web", "--timeout", "1"]);
    fake.close();
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("'web' did not respond to health checks within 1s (last: HTTP 500)\n");
    expect(result.stderr).toBe("hop3-health: no hop3-health exporter answered on its operator socket: probed here, and the verdict was not recorded\n");
    exporter = { stop: () => Promise.resolve(0) } as unknown as RunningExporter;
  });
});

describe("continuous app checks", () => {
  let exporter: RunningExporter;
  afterEach(async () => {
    await exporter.stop("SIGKILL");
  });

  it("fail after `retries` failures in a row, come back after one success, and follow apps that come and go", async () => {
    // The app's uWSGI process runs (it carries the procname prefix); its HTTP answers are the test's to choose.
    const layout = await makeHop3Layout([{ name: "pt-web", manifest: '[healthcheck]\npath = "/health"\ninterval = 1\nretries = 3\ntimeout = 1\n', workers: { wsgi: 1 } }]);
    const worker = await startAppProcess(layout, "pt-web", "wsgi", "worker");
    cleanups.push(() => worker.stop());
    let healthy = true;
    const server = http.createServer((_req, res) => (healthy ? res.end("ok") : res.writeHead(503).end("down")));
    await new Promise<void>((resolve) => server.listen(layout.apps.get("pt-web")!.port!, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    exporter = await startExporter({ root: layout.root, interval: 1 });
    const severity = async (name = "pt-web"): Promise<number | undefined> => metricValue(await (await fetch(`${exporter.url}/metrics`)).text(), "hop3_app_health_severity", { app: name });
    await eventually(async () => (await severity()) === 0, 15_000, "pt-web to be ok");

    healthy = false;
    // One failure, then two: still ok, and saying so.
    const during = await eventually(async () => {
      const report = (await (await fetch(`${exporter.url}/status`)).json()) as { sections: Array<{ items: Array<{ check: string; detail: string; severity: string }> }> };
      const item = report.sections.flatMap((s) => s.items).find((i) => i.check === "app:pt-web");
      return item?.detail.includes("of 3 failed probes before it fails") ? item : undefined;
    }, 15_000, "a failed probe that does not fail yet");
    expect(during.severity).toBe("ok");
    await eventually(async () => (await severity()) === 2, 15_000, "pt-web to fail after 3 failures");

    healthy = true;
    await eventually(async () => (await severity()) === 0, 15_000, "pt-web to recover after one success");
    const events = (await (await fetch(`${exporter.url}/api/v1/events?check=app:pt-web&kind=transition`)).json()) as { events: Array<Record<string, unknown>> };
    expect(events.events.map((e) => [e.from, e.to])).toEqual([
      [null, "ok"],
      ["ok", "fail"],
      ["fail", "ok"],
    ]);
    expect(String(events.events[1]!.message)).toBe("answered HTTP 503 at /health (healthy: 200–399; [apps.pt-web] accept_status widens it) (3 failed probes in a row)");

    // A new app is picked up without a restart; a removed one goes.
    const more = await makeHop3Layout([{ name: "pt-api", manifest: '[healthcheck]\npath = "/ping"\ninterval = 1\n', workers: { web: 1 } }], { root: layout.root });
    const api = await startAppProcess(more, "pt-api", "web", "starting");
    cleanups.push(() => api.stop());
    await eventually(async () => (await severity("pt-api")) === 0, 15_000, "the new app to be checked");
    expect(api.requests().map((r) => [r.host, r.path])).toContainEqual(["localhost", "/ping"]);
    await api.stop();
    await rm(path.join(layout.root, "apps/pt-api"), { recursive: true });
    await eventually(async () => (await severity("pt-api")) === undefined, 15_000, "the removed app to go");
    expect(await readFile(path.join(layout.root, "apps/pt-web/src/hop3/hop3.toml"), "utf8")).toContain("retries = 3");
  }, 90_000);
});
