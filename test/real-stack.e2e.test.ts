// App health on the real parts of a Hop3 server: Debian's uWSGI Emperor (with the python3
// plugin) watching HOP3_ROOT/uwsgi-enabled, real vassals written as Hop3 writes them, and nginx
// with Hop3-shaped server blocks in HOP3_ROOT/nginx. The apps stand for these shapes of the
// catalog, as seen on servers Hop3 0.4 and later set up:
// - rs-sock: a WSGI app nginx reaches over uWSGI's own protocol on a unix socket (no PORT;
//   BIND_ADDRESS=unix://…, NGINX_SERVER_NAME, no HOST_NAME) — Hop3 0.4's Flask/Django apps;
// - rs-static: a static site (a PORT nothing listens on, no vassal, an nginx block with `root`);
// - rs-web: an HTTP app with a port of its own behind an nginx block that points nowhere (nginx
//   answers 502 while the app answers 200);
// - rs-loop: a vassal that dies at every start (its module does not import): a crash loop;
// - rs-stopped: stopped with Hop3's stop (its vassal only in uwsgi-available);
// - rs-shop and rs-evil: two tenants; evil's daemon runs in shop's folder, names shop's folder on
//   its command line and listens on shop's port, while shop's own process listens nowhere.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemsOf, runCli, tempDir, testServerToml, type JsonReport } from "./helpers/cli.js";
import { eventually, metricValue, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { stopChild } from "./helpers/processes.js";
import { closedPort } from "./helpers/servers.js";

const hasStack = spawnSync("uwsgi", ["--version"]).status === 0 && spawnSync("nginx", ["-v"]).status === 0;
if (!hasStack && process.env.CI === "true") throw new Error("uwsgi and nginx are needed (apt-get install uwsgi uwsgi-plugin-python3 nginx): .ci/run installs them");

const WSGI_APP = `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok from " + environ.get("HTTP_HOST", "").encode()]
`;

/** A vassal as Hop3 writes it: `[uwsgi]`, then keys sorted, secrets in `env` lines. */
function vassal(lines: Record<string, string>): string {
  return `[uwsgi]\n${Object.keys(lines)
    .sort()
    .map((k) => `${k} = ${lines[k]}`)
    .join("\n")}\n`;
}

describe.skipIf(!hasStack)("a real uWSGI Emperor and nginx", () => {
  const root = tempDir("hop3-real-");
  const children: ChildProcess[] = [];
  let nginxPort = 0;
  const ports = { web: 0, shop: 0 };
  let exporter: RunningExporter | undefined;

  const app = async (name: string, env: Record<string, string>, vassals: Record<string, string>, options: { enabled?: boolean } = {}): Promise<string> => {
    const dir = path.join(root, "apps", name);
    for (const sub of ["git", "src", "data", "log", "venv"]) await mkdir(path.join(dir, sub), { recursive: true });
    await writeFile(path.join(dir, "src", "app.py"), WSGI_APP);
    const full: Record<string, string> = { APP: name, HOME: root, PWD: dir, SECRET_KEY: "tenant-secret-in-live-env", USER: "hop3", ...env };
    await writeFile(path.join(dir, "venv", "LIVE_ENV"), Object.keys(full).sort().map((k) => `${k}=${full[k]}\n`).join(""));
    for (const [file, text] of Object.entries(vassals)) {
      await writeFile(path.join(root, "uwsgi-available", file), text);
      if (options.enabled !== false) await writeFile(path.join(root, "uwsgi-enabled", file), text);
    }
    return dir;
  };

  beforeAll(async () => {
    for (const dir of ["apps", "nginx", "uwsgi", "uwsgi-available", "uwsgi-enabled", "www"]) await mkdir(path.join(root, dir), { recursive: true });
    await writeFile(path.join(root, "hop3-server.toml"), testServerToml('HOP3_SECRET_KEY = "real-stack-key"'));
    nginxPort = await closedPort();
    ports.web = await closedPort();
    ports.shop = await closedPort();
    const evilPort = ports.shop;
    const common = (name: string, kind: string): Record<string, string> => ({
      chdir: path.join(root, "apps", name, "src"),
      master: "true",
      "procname-prefix": `${name}:${kind}:`,
      logto2: path.join(root, "apps", name, "log", `${kind}.1.log`),
      env: "SECRET_KEY=tenant-secret-in-vassal",
    });

    const sock = path.join(root, "nginx", "rs-sock.sock");
    await app("rs-sock", { BIND_ADDRESS: `unix://${sock}`, NGINX_SERVER_NAME: "sock.example.test", NGINX_SOCKET: sock }, {
      "rs-sock_wsgi.1.ini": vassal({ ...common("rs-sock", "wsgi"), plugin: "python3", module: "app:application", socket: sock, "chmod-socket": "664", processes: "1" }),
    });
    await writeFile(path.join(root, "nginx", "rs-sock.conf"), `upstream rs-sock {\n  server unix:${sock};\n}\nserver {\n  listen 127.0.0.1:${nginxPort};\n  server_name sock.example.test;\n  location / {\n    uwsgi_pass rs-sock;\n    include /etc/nginx/uwsgi_params;\n  }\n}\n`);

    const site = path.join(root, "apps", "rs-static", "src", "public");
    await app("rs-static", { PORT: String(await closedPort()), NGINX_SERVER_NAME: "static.example.test" }, {});
    await mkdir(site, { recursive: true });
    await writeFile(path.join(site, "index.html"), "<h1>static</h1>\n");
    await writeFile(path.join(root, "nginx", "rs-static.conf"), `server {\n  listen 127.0.0.1:${nginxPort};\n  server_name static.example.test;\n  root ${site};\n}\n`);

    await app("rs-web", { PORT: String(ports.web), BIND_ADDRESS: "127.0.0.1", HOST_NAME: "web.example.test" }, {
      "rs-web_wsgi.1.ini": vassal({ ...common("rs-web", "wsgi"), plugin: "python3", module: "app:application", "http-socket": `127.0.0.1:${ports.web}`, processes: "1" }),
    });
    // nginx passes to a port nothing listens on: it answers 502, the app itself 200.
    await writeFile(path.join(root, "nginx", "rs-web.conf"), `server {\n  listen 127.0.0.1:${nginxPort};\n  server_name web.example.test;\n  location / {\n    proxy_pass http://127.0.0.1:${await closedPort()};\n  }\n}\n`);

    await app("rs-loop", { PORT: String(await closedPort()) }, {
      "rs-loop_wsgi.1.ini": vassal({ ...common("rs-loop", "wsgi"), plugin: "python3", module: "no_such_module:application", "need-app": "true", "http-socket": "127.0.0.1:0" }),
    });
    await app("rs-stopped", { PORT: String(await closedPort()) }, { "rs-stopped_wsgi.1.ini": vassal({ ...common("rs-stopped", "wsgi"), plugin: "python3", module: "app:application" }) }, { enabled: false });

    // shop's own daemon listens nowhere; evil's daemon takes shop's port, from shop's folder, naming it.
    await app("rs-shop", { PORT: String(ports.shop) }, { "rs-shop_web.1.ini": vassal({ ...common("rs-shop", "web"), "attach-daemon": "sleep 100000" }) });
    const evilServer = path.join(root, "apps", "rs-evil", "src", "server.py");
    await app("rs-evil", { PORT: String(await closedPort()) }, {
      "rs-evil_worker.1.ini": vassal({
        ...common("rs-evil", "worker"),
        "attach-daemon": `sh -c "cd ${root}/apps/rs-shop/src && exec python3 ${evilServer} ${evilPort} ${root}/apps/rs-shop/"`,
      }),
    });
    await writeFile(evilServer, "import http.server, sys\nhttp.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()\n");

    const nginxPrefix = path.join(root, "nginx-run");
    await mkdir(path.join(nginxPrefix, "logs"), { recursive: true });
    await writeFile(
      path.join(nginxPrefix, "nginx.conf"),
      `user root;\nworker_processes 1;\nerror_log ${nginxPrefix}/logs/error.log;\npid ${nginxPrefix}/nginx.pid;\nevents { worker_connections 64; }\nhttp {\n  access_log off;\n  client_body_temp_path ${nginxPrefix}/body;\n  proxy_temp_path ${nginxPrefix}/proxy;\n  uwsgi_temp_path ${nginxPrefix}/uwsgi;\n  fastcgi_temp_path ${nginxPrefix}/fastcgi;\n  scgi_temp_path ${nginxPrefix}/scgi;\n  include ${root}/nginx/*.conf;\n}\n`,
    );
    children.push(spawn("nginx", ["-p", nginxPrefix, "-c", path.join(nginxPrefix, "nginx.conf"), "-g", "daemon off;"], { stdio: "ignore" }));
    // The Emperor as Hop3's unit starts it (--stats, no --emperor-stats), logging to a file as supervisor has it.
    const emperorLog = openSync(path.join(root, "uwsgi-emperor.log"), "a");
    children.push(spawn("uwsgi", ["--emperor", path.join(root, "uwsgi-enabled"), "--stats", path.join(root, "uwsgi-stats.sock")], { stdio: ["ignore", emperorLog, emperorLog], cwd: root }));
    closeSync(emperorLog);
    // Ready: nginx answers for the unix-socket app, and evil holds shop's port.
    await eventually(async () => (await fetch(`http://127.0.0.1:${nginxPort}/`, { headers: { host: "sock.example.test" } }).catch(() => null))?.status === 200, 30_000, "nginx and the rs-sock vassal");
    await eventually(async () => (await fetch(`http://127.0.0.1:${ports.shop}/`).catch(() => null))?.ok, 30_000, "rs-evil's server on rs-shop's port");
    await eventually(async () => (await fetch(`http://127.0.0.1:${ports.web}/`).catch(() => null))?.ok, 30_000, "rs-web");
    // The other tests' roots must be readable by the user the invisible-processes test runs as.
    await chmod(root, 0o755);
  }, 60_000);

  afterAll(async () => {
    await exporter?.stop("SIGKILL");
    // The Emperor ends its vassals on SIGINT; nginx its workers on SIGQUIT.
    await Promise.all(children.map((c) => stopChild(c, "SIGINT")));
  });

  const status = async (uid?: number): Promise<ReturnType<typeof itemsOf>> => {
    const config = path.join(root, "status.toml");
    await writeFile(config, `hop3_root = ${JSON.stringify(root)}\nhop3_etc_dir = ${JSON.stringify(path.join(root, "etc"))}\n[checks.disk-usage]\nwarn_percent = 99.98\nfail_percent = 99.99\n`, { mode: 0o644 });
    const result = await runCli(["--config", config, "status", "--json"], {}, uid !== undefined ? { uid } : {});
    expect(result.stdout + result.stderr).not.toContain("tenant-secret");
    return itemsOf(JSON.parse(result.stdout) as JsonReport);
  };

  it("judges each kind of app as a user reaches it, with no configuration", async () => {
    const items = await status();
    expect(items["app:rs-sock"]).toMatchObject({ severity: "ok", state: "running", detail: "answered HTTP 200 at / through nginx for sock.example.test" });
    expect(items["app:rs-sock"]!.details).toMatchObject({ processes_from: "the uWSGI Emperor's process tree", server_name: "sock.example.test" });
    expect(items["app:rs-static"]).toMatchObject({ severity: "ok", detail: "answered HTTP 200 at / through nginx for static.example.test" });
    expect(items["app:rs-web"]).toMatchObject({
      severity: "fail",
      detail: `nginx answers HTTP 502 for web.example.test; the app itself answers on 127.0.0.1:${ports.web}: nginx cannot reach it or serve it (3 failed probes in a row)`,
      details: { failed_layer: "nginx" },
    });
    expect(items["app:rs-stopped"]).toMatchObject({ severity: "ok", state: "stopped", detail: "stopped (no vassal enabled in uwsgi-enabled/)" });
    expect(items["app:rs-loop"]).toMatchObject({ severity: "fail" });
    // Another tenant's process on shop's port, in shop's folder, naming it: not shop's answer.
    expect(items["app:rs-shop"]).toMatchObject({ severity: "fail", reason: "not_running", details: { port_owner: "app:rs-evil" } });
    expect(items["app:rs-shop"]!.detail).toMatch(new RegExp(`^stopped unexpectedly: 127\\.0\\.0\\.1:${ports.shop} answers, but its listening socket is app rs-evil's \\(pid \\d+\\), not rs-shop's$`));
    expect(items["app:rs-evil"]).toMatchObject({ severity: "ok", state: "running" });
  });

  it("judges apps by their answer alone when their processes' descriptors are not visible to its user", async () => {
    const items = await status(65534);
    expect(items["app:rs-sock"]).toMatchObject({ severity: "ok", detail: "answered HTTP 200 at / through nginx for sock.example.test" });
    // rs-evil's port answers on shop's behalf, and nobody may look into whose socket it is: the answer alone says.
    expect(items["app:rs-shop"]).toMatchObject({ severity: "ok", details: { port_owner: "processes not visible to this user: judged by its answer alone" } });
    expect(items["app:rs-stopped"]).toMatchObject({ severity: "ok", state: "stopped" });
  });

  it("serve: a crash loop fails within 30 s, with its respawns counted; stopped apps have their state", async () => {
    exporter = await startExporter({ root, interval: 5 });
    const metrics = async (): Promise<string> => (await fetch(`${exporter!.url}/metrics`)).text();
    await eventually(async () => metricValue(await metrics(), "hop3_app_state", { app: "rs-loop", state: "crash_loop" }) === 1, 30_000, "rs-loop in a crash loop");
    const text = await metrics();
    expect(metricValue(text, "hop3_app_respawns_total", { app: "rs-loop" })).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, "hop3_app_state", { app: "rs-stopped", state: "stopped" })).toBe(1);
    expect(metricValue(text, "hop3_app_state", { app: "rs-sock", state: "running" })).toBe(1);
    expect(metricValue(text, "hop3_health_check_failure_reason", { check: "app:rs-loop", reason: "crash_loop" })).toBe(1);
    const report = (await (await fetch(`${exporter.url}/status`)).json()) as JsonReport;
    expect(itemsOf(report)["app:rs-loop"]).toMatchObject({ severity: "fail", state: "crash_loop", reason: "crash_loop" });
    expect(itemsOf(report)["app:rs-loop"]!.detail).toMatch(/^crash loop: restarted \d+ times in \d+ min \(uWSGI\), the last \d+s ago$/);
    expect(text).not.toContain("tenant-secret");
  }, 60_000);

  it("serve: a vassal killed under the Emperor fails within seconds, from the Emperor's log, and is ok again once respawned", async () => {
    // No check cycle in the meantime: what sees the death is the app watch, which signals only the
    // Emperor while its log is watched, and scans when the log says a vassal died.
    await exporter?.stop("SIGKILL");
    exporter = await startExporter({ root, interval: 300 });
    const severity = async (): Promise<number | undefined> => metricValue(await (await fetch(`${exporter!.url}/metrics`)).text(), "hop3_app_health_severity", { app: "rs-sock" });
    await eventually(async () => (await severity()) === 0, 30_000, "rs-sock ok");
    const master = spawnSync("pgrep", ["-f", "^rs-sock:wsgi:uWSGI master"], { encoding: "utf8" }).stdout.trim().split("\n").map(Number);
    expect(master).toHaveLength(1);
    const killedAt = Date.now();
    process.kill(master[0]!, "SIGKILL");
    await eventually(async () => (await severity()) === 2, 10_000, "rs-sock failing after its vassal was killed");
    expect(Date.now() - killedAt).toBeLessThan(5_000);
    const events = (await (await fetch(`${exporter.url}/api/v1/events`)).json()) as { events: Array<{ check: string; to: string }> };
    expect(events.events.some((e) => e.check === "app:rs-sock" && e.to === "fail")).toBe(true);
    // uWSGI's Emperor spawns it again a few seconds later.
    await eventually(async () => (await severity()) === 0, 30_000, "rs-sock ok again once respawned");
  }, 90_000);
});
