// `hop3-health serve` as a real process: readiness, metrics, status, events, restarts, signals,
// TLS and basic auth.

import { execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { TLSSocket } from "node:tls";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import bcrypt from "bcryptjs";
import { afterEach, describe, expect, it } from "vitest";
import { makeAuthority, makeCertificate } from "./helpers/certs.js";
import { closedPort } from "./helpers/servers.js";
import { runCli, tempDir } from "./helpers/cli.js";
import { controllablePlugin, eventually, metricValue, startExporter, type RunningExporter } from "./helpers/exporter.js";

const started: RunningExporter[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.stop("SIGKILL")));
});

async function exporter(...args: Parameters<typeof startExporter>): Promise<RunningExporter> {
  const e = await startExporter(...args);
  started.push(e);
  return e;
}

/** A HOP3_ROOT with a self-signed certificate for hop3.example.test, 30 days left. */
async function rootWithCertificate(): Promise<{ root: string; certDir: string }> {
  const root = tempDir();
  const certDir = path.join(root, "nginx/ssl");
  await mkdir(certDir, { recursive: true });
  await writeFile(path.join(certDir, "hop3.crt"), (await makeCertificate({ domain: "hop3.example.test", notAfterDays: 30 })).pem);
  return { root, certDir };
}

async function ready(e: RunningExporter): Promise<void> {
  await eventually(async () => (await fetch(`${e.url}/-/ready`)).ok, 10_000, "ready");
}

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

async function set(dir: string, file: string, value: string): Promise<void> {
  await writeFile(path.join(dir, file), value);
}

describe("hop3-health serve", () => {
  it("is healthy at once, and ready (503 → 200) once the first cycle has finished", async () => {
    const plugin = await controllablePlugin();
    await set(plugin, "one.delay", "1500");
    const e = await exporter({ config: `plugins = ["${plugin}"]` });
    expect((await fetch(`${e.url}/-/healthy`)).status).toBe(200);
    const early = await fetch(`${e.url}/-/ready`);
    expect(early.status).toBe(503);
    expect(await early.text()).toContain("first check cycle has not finished");
    expect((await fetch(`${e.url}/status`)).status).toBe(503);
    // Before the first cycle nothing is said of any check: no severity at all, not 0 (ok). Who
    // the server is, and when it booted, are known from the start.
    const before = await text(`${e.url}/metrics`);
    expect(before).not.toMatch(/^hop3_health_severity\{/m);
    expect(metricValue(before, "hop3_health_overall_severity")).toBeUndefined();
    const boot = metricValue(before, "hop3_server_boot_time_seconds")!;
    expect(boot).toBeGreaterThan(0);
    expect(boot).toBeLessThan(Date.now() / 1000);
    expect(metricValue(before, "hop3_server_info", { hostname: "exporter-test" })).toBe(1);
    await eventually(async () => (await fetch(`${e.url}/-/ready`)).status === 200, 10_000, "ready");
    expect((await fetch(`${e.url}/status`)).status).toBe(200);
    expect(metricValue(await text(`${e.url}/metrics`), "hop3_health_overall_severity")).toBe(0);
  });

  it("publishes the contract's metrics with the values of the last cycle", async () => {
    const plugin = await controllablePlugin();
    await set(plugin, "one.severity", "ok");
    await set(plugin, "two.severity", "warn");
    await set(plugin, "three.severity", "fail");
    await set(plugin, "off.severity", "skip");
    const e = await exporter({ config: `plugins = ["${plugin}"]` });
    await ready(e);
    const metrics = await text(`${e.url}/metrics`);

    expect(metricValue(metrics, "hop3_health_severity", { check: "ctl-one", section: "Apps" })).toBe(0);
    expect(metricValue(metrics, "hop3_health_severity", { check: "ctl-two", section: "Apps" })).toBe(1);
    expect(metricValue(metrics, "hop3_health_severity", { check: "ctl-three", section: "Apps" })).toBe(2);
    expect(metricValue(metrics, "hop3_health_severity", { check: "ctl-off" })).toBeUndefined();
    expect(metricValue(metrics, "hop3_health_check_configured", { check: "ctl-one", section: "Apps" })).toBe(1);
    expect(metricValue(metrics, "hop3_health_check_configured", { check: "ctl-off", section: "Apps" })).toBe(0);
    expect(metricValue(metrics, "hop3_health_check_configured", { check: "postgresql", section: "Backing services" })).toBe(0);
    expect(metricValue(metrics, "hop3_health_overall_severity")).toBe(2);
    expect(metricValue(metrics, "hop3_health_check_duration_seconds", { check: "ctl-one" })).toBeGreaterThanOrEqual(0);
    const lastRun = metricValue(metrics, "hop3_health_check_last_run_timestamp_seconds", { check: "ctl-one" })!;
    expect(Math.abs(lastRun - Date.now() / 1000)).toBeLessThan(60);
    expect(metricValue(metrics, "hop3_server_info", { hostname: "exporter-test", ip: "203.0.113.9", version: "0.5.0" })).toBe(1);
    expect(metricValue(metrics, "hop3_server_boot_time_seconds")).toBeLessThan(Date.now() / 1000);
    expect(metricValue(metrics, "hop3_exporter_build_info", { nodejs: process.version })).toBe(1);
    expect(metricValue(metrics, "hop3_disk_usage_ratio", { path: e.root })).toBeGreaterThan(0);
    expect(metricValue(metrics, "hop3_disk_size_bytes", { path: e.root })).toBeGreaterThan(0);
    expect(metricValue(metrics, "hop3_disk_available_bytes", { path: e.root })).toBeGreaterThan(0);
    expect(metricValue(metrics, "hop3_health_transitions_total", { check: "ctl-three", to: "fail" })).toBe(1);
    expect(metricValue(metrics, "hop3_health_transitions_total", { check: "ctl-three", to: "ok" })).toBe(0);
    // Why each non-ok check is not ok, as one word; nothing for an ok one.
    expect(metricValue(metrics, "hop3_health_check_failure_reason", { check: "ctl-three", reason: "error" })).toBe(1);
    expect(metricValue(metrics, "hop3_health_check_failure_reason", { check: "ctl-two" })).toBe(1);
    expect(metricValue(metrics, "hop3_health_check_failure_reason", { check: "ctl-one" })).toBeUndefined();
    expect(metricValue(metrics, "hop3_exporter_tls")).toBe(0);
    expect(metricValue(metrics, "process_resident_memory_bytes")).toBeGreaterThan(0);
    // Of prom-client's defaults: the process_* family, the V8 heap, the event loop's lag at the
    // scrape; not a series per heap space, GC bucket and lag percentile, which would cost a fleet
    // more than the checks (and the percentiles a timer waking the exporter all the time).
    expect(metricValue(metrics, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
    expect(metricValue(metrics, "nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    expect(metrics).not.toMatch(/^nodejs_(heap_space|gc_duration|version_info|active_|eventloop_lag_(min|max|mean|stddev|p50|p90|p99))/m);
    expect(metrics).toMatch(/# HELP hop3_health_severity .*last check cycle/);
    expect(metrics).toContain("# TYPE hop3_deploy_probe_duration_seconds histogram");
    expect(metrics).toContain("# TYPE hop3_deploy_probe_total counter");
  });

  it("compresses /metrics with gzip when asked, as Prometheus asks, and not otherwise", async () => {
    const e = await exporter();
    await ready(e);
    const get = (encoding: string): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> =>
      new Promise((resolve, reject) =>
        http.get(`${e.url}/metrics`, { headers: { "accept-encoding": encoding } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        }),
      );
    const zipped = await get("gzip");
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers.vary).toBe("Accept-Encoding");
    const unzipped = gunzipSync(zipped.body).toString();
    expect(metricValue(unzipped, "hop3_health_overall_severity")).toBe(0);
    expect(zipped.body.length).toBeLessThan(unzipped.length / 3);
    for (const encoding of ["identity", "gzip;q=0, identity", "br"]) {
      const plain = await get(encoding);
      expect(plain.headers["content-encoding"], encoding).toBeUndefined();
      expect(metricValue(plain.body.toString(), "hop3_health_overall_severity"), encoding).toBe(0);
    }
  });

  it("publishes certificate gauges from the certificate checks", async () => {
    const { root, certDir } = await rootWithCertificate();
    const e = await exporter({ root });
    await ready(e);
    const metrics = await text(`${e.url}/metrics`);
    const labels = { domain: "hop3.example.test", source: path.join(certDir, "hop3.crt") };
    const notAfter = metricValue(metrics, "hop3_certificate_not_after_timestamp_seconds", labels)!;
    expect(Math.round((notAfter - Date.now() / 1000) / 86400)).toBe(30);
    expect(metricValue(metrics, "hop3_certificate_self_signed", labels)).toBe(1);
  });

  it("answers /metrics while a check is still running", async () => {
    const plugin = await controllablePlugin();
    const e = await exporter({ config: `plugins = ["${plugin}"]\n[checks.ctl-two]\ntimeout = 10\n`, interval: 1 });
    await ready(e);
    // From now on, ctl-two takes 6 s a run.
    await set(plugin, "two.delay", "6000");
    await eventually(async () => (await readFile(path.join(plugin, "two.started"), "utf8").catch(() => "")) !== "", 10_000, "a slow run to start");
    const metrics = await text(`${e.url}/metrics`);
    const finished = await readFile(path.join(plugin, "two.finished"), "utf8").catch(() => null);
    expect(finished).toBeNull();
    expect(metricValue(metrics, "hop3_health_severity", { check: "ctl-two" })).toBe(0);
  });

  it("counts and logs transitions, and does not invent them again after a restart", async () => {
    const plugin = await controllablePlugin();
    const root = tempDir();
    const eventsFile = path.join(root, "events.jsonl");
    const config = `plugins = ["${plugin}"]\nevents = "${eventsFile}"`;
    const first = await exporter({ root, config });
    const url = first.url;
    await eventually(async () => (await fetch(`${url}/-/ready`)).ok, 10_000, "ready");
    await set(plugin, "one.severity", "fail");
    await set(plugin, "one.message", "the pool is exhausted");
    await eventually(async () => metricValue(await text(`${url}/metrics`), "hop3_health_transitions_total", { check: "ctl-one", to: "fail" }) === 1, 10_000, "a transition to fail");
    expect(first.logs().some((l) => l.includes('"level":"error"') && l.includes("Controlled one: ok → fail: the pool is exhausted"))).toBe(true);

    const events = (await (await fetch(`${url}/api/v1/events?check=ctl-one`)).json()) as { events: Array<Record<string, unknown>> };
    expect(events.events.map((ev) => [ev.from, ev.to])).toEqual([
      [null, "ok"],
      ["ok", "fail"],
    ]);
    expect(events.events[1]).toMatchObject({ kind: "transition", check: "ctl-one", message: "the pool is exhausted" });
    const since = String(events.events[1]!.time);
    const filtered = (await (await fetch(`${url}/api/v1/events?since=${encodeURIComponent(since)}`)).json()) as { events: unknown[] };
    expect(filtered.events).toHaveLength(1);
    expect((await fetch(`${url}/api/v1/events?since=yesterday`)).status).toBe(400);

    expect(await first.stop()).toBe(0);
    const linesBefore = (await readFile(eventsFile, "utf8")).trim().split("\n").length;

    const second = await exporter({ root, config });
    await eventually(async () => (await fetch(`${second.url}/-/ready`)).ok, 10_000, "ready again");
    const metrics = await text(`${second.url}/metrics`);
    expect(metricValue(metrics, "hop3_health_transitions_total", { check: "ctl-one", to: "fail" })).toBe(0);
    expect(metricValue(metrics, "hop3_health_transitions_total", { check: "ctl-two", to: "ok" })).toBe(0);
    expect(metricValue(metrics, "hop3_health_severity", { check: "ctl-one" })).toBe(2);
    expect((await readFile(eventsFile, "utf8")).trim().split("\n")).toHaveLength(linesBefore);
  });

  it("skips a torn last line of the event log with a warning", async () => {
    const plugin = await controllablePlugin();
    const root = tempDir();
    const eventsFile = path.join(root, "events.jsonl");
    await writeFile(
      eventsFile,
      `${JSON.stringify({ time: "2026-01-01T00:00:00.000Z", kind: "transition", check: "ctl-one", from: null, to: "fail", message: "old" })}\n{"time":"2026-01-01T00:00:01.000Z","kind":"transi`,
    );
    const e = await exporter({ root, config: `plugins = ["${plugin}"]\nevents = "${eventsFile}"` });
    await ready(e);
    expect(e.logs().some((l) => l.includes('"level":"warn"') && l.includes("line 2 is not a complete event"))).toBe(true);
    // ctl-one was fail before the crash and is ok now: that is a transition; the others are new.
    const events = await eventually(async () => {
      const body = (await (await fetch(`${e.url}/api/v1/events?check=ctl-one`)).json()) as { events: Array<Record<string, unknown>> };
      return body.events.length >= 2 ? body.events : undefined;
    });
    expect(events.map((ev) => [ev.from, ev.to])).toEqual([
      [null, "fail"],
      ["fail", "ok"],
    ]);
    const lines = (await readFile(eventsFile, "utf8")).split("\n");
    expect(() => JSON.parse(lines[2]!) as unknown).not.toThrow();
  });

  it("stops promptly on SIGTERM, mid-cycle, and exits 0", async () => {
    const plugin = await controllablePlugin();
    await set(plugin, "one.delay", "30000");
    const e = await exporter({ config: `plugins = ["${plugin}"]\n[checks.ctl-one]\ntimeout = 60\n` });
    await eventually(async () => (await readFile(path.join(plugin, "one.started"), "utf8").catch(() => "")) !== "", 10_000, "the slow check to start");
    const before = Date.now();
    expect(await e.stop("SIGTERM")).toBe(0);
    // Well before the check's 30 s: the running cycle was aborted, not waited out.
    expect(Date.now() - before).toBeLessThan(10_000);
    expect(e.logs().some((l) => l.includes("SIGTERM: stopping"))).toBe(true);
  });

  it("serves the report as JSON, text, HTML, and to `status --url`", async () => {
    const plugin = await controllablePlugin();
    await set(plugin, "two.severity", "warn");
    await set(plugin, "two.message", "queue <b>backlog</b>");
    const e = await exporter({ config: `plugins = ["${plugin}"]` });
    await ready(e);

    const json = (await (await fetch(`${e.url}/status`)).json()) as { overall: string; identity: { hostname: string }; sections: Array<{ title: string }> };
    expect(json.overall).toBe("warn");
    expect(json.identity.hostname).toBe("exporter-test");
    expect(json.sections.map((s) => s.title)).toEqual(["Filesystem", "Configuration", "Apps"]);

    const report = await text(`${e.url}/status?format=text`);
    expect(report).toContain("Hop3 server: exporter-test (203.0.113.9) — v0.5.0 — up ");
    expect(report).toContain("  Controlled two   ⚠ queue <b>backlog</b>\n");
    expect(report).toContain("Status: ⚠ 1 warning\n");

    const page = await fetch(`${e.url}/`);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toMatch(/<meta http-equiv="refresh" content="\d+">/);
    expect(html).toContain("Hop3 server: exporter-test (203.0.113.9)");
    // The overall status as a banner on top; each check a tile, its message escaped.
    expect(html).toMatch(/<header id="banner" class="warn" role="banner">\n<p class="overall"><span aria-hidden="true">⚠<\/span> 1 warning<\/p>/);
    expect(html).toContain('<li class="tile warn" data-check="ctl-two">\n<p class="state"><span aria-hidden="true">⚠</span> warning</p>\n<h3>Controlled two</h3>\n<p class="detail">queue &#60;b&#62;backlog&#60;/b&#62;</p>');
    expect(page.headers.get("server-timing")).toMatch(/^render;dur=\d+(\.\d+)?$/);

    const viaUrl = await runCli(["status", "--url", e.url]);
    expect(viaUrl.code).toBe(1);
    expect(viaUrl.stdout).toBe(report);
    const quiet = await runCli(["status", "--url", e.url, "--quiet"]);
    expect(quiet).toMatchObject({ code: 1, stdout: "DEGRADED: Controlled two queue <b>backlog</b>\n" });
    const down = await runCli(["status", "--url", "http://127.0.0.1:1"]);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain("could not reach http://127.0.0.1:1");
  });

  it("promtool check metrics has nothing to say about a real scrape", async () => {
    const { root } = await rootWithCertificate();
    const e = await exporter({ root });
    await ready(e);
    const metrics = await text(`${e.url}/metrics`);
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      const child = execFile("promtool", ["check", "metrics"], (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, output: stdout + stderr });
      });
      child.stdin?.end(metrics);
    });
    expect(result).toEqual({ code: 0, output: "" });
  });
});

describe("reload", () => {
  it("SIGHUP and POST /-/reload read the configuration again, keep the state, and keep the running one when the new one is bad", async () => {
    const e = await exporter({});
    const scrape = async (): Promise<string> => text(`${e.url}/metrics`);
    const disk = async (): Promise<number | undefined> => metricValue(await scrape(), "hop3_health_severity", { check: "disk-usage" });
    await eventually(async () => (await disk()) === 0, 15_000, "disk-usage ok");
    const first = await scrape();
    expect(metricValue(first, "hop3_health_config_last_reload_successful")).toBe(1);
    const loadedAt = metricValue(first, "hop3_health_config_last_reload_success_timestamp_seconds")!;
    expect(loadedAt).toBeGreaterThan(0);
    const original = await readFile(e.configFile, "utf8");

    // SIGHUP, as `systemctl reload` sends it: the disk's new threshold applies from the next cycle.
    await writeFile(e.configFile, original.replace("warn_percent = 99.98", "warn_percent = 0.01"));
    e.process.kill("SIGHUP");
    await eventually(async () => (await disk()) === 1, 15_000, "disk-usage warn after SIGHUP");
    const reloaded = await scrape();
    expect(metricValue(reloaded, "hop3_health_config_last_reload_successful")).toBe(1);
    expect(metricValue(reloaded, "hop3_health_config_last_reload_success_timestamp_seconds")).toBeGreaterThan(loadedAt);
    expect(e.logs().some((l) => l.includes(`configuration reloaded from ${e.configFile}`))).toBe(true);

    // A bad file: refused, said why, and the running configuration stays (the disk still warns).
    await writeFile(e.configFile, original.replace(/^interval = \d+$/m, 'interval = "soon"'));
    // `hop3-health reload` reads the file first: a bad one is said, and the exporter is not asked.
    const checked = await runCli(["--config", e.configFile, "reload"]);
    expect(checked.code).toBe(3);
    expect(checked.stderr).toContain('interval: expected a number of seconds, got "soon"');
    // Asked anyway (as SIGHUP would), over the operator socket, the exporter refuses it and says why.
    const refused = await e.operator("POST", "/-/reload");
    expect(refused.status).toBe(500);
    expect((refused.body as { error: string }).error).toBe(
      `reload failed, the running configuration stays: config file ${e.configFile}: interval: expected a number of seconds, got "soon"`,
    );
    const after = await scrape();
    expect(metricValue(after, "hop3_health_config_last_reload_successful")).toBe(0);
    const cycleAt = metricValue(after, "hop3_health_last_cycle_timestamp_seconds")!;
    await eventually(async () => metricValue(await scrape(), "hop3_health_last_cycle_timestamp_seconds")! > cycleAt, 15_000, "cycles go on");
    expect(await disk()).toBe(1);

    // Mended: back to the first thresholds, and the counters went on from where they were.
    await writeFile(e.configFile, original);
    const mended = await runCli(["--config", e.configFile, "reload"]);
    expect(mended).toMatchObject({ code: 0, stdout: `configuration reloaded from ${e.configFile}\n` });
    await eventually(async () => (await disk()) === 0, 15_000, "disk-usage ok again");
    const last = await scrape();
    expect(metricValue(last, "hop3_health_config_last_reload_successful")).toBe(1);
    expect(metricValue(last, "hop3_health_transitions_total", { check: "disk-usage", to: "warn" })).toBe(1);
    // Its first appearance and the recovery: nothing was reset by the reloads.
    expect(metricValue(last, "hop3_health_transitions_total", { check: "disk-usage", to: "ok" })).toBe(2);
    // A GET of a POST endpoint says what is allowed; HEAD is answered as GET, without a body.
    const wrongMethod = await fetch(`${e.url}/-/reload`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    const head = await fetch(`${e.url}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });
});

describe("systemd", () => {
  it("tells a NOTIFY_SOCKET READY=1 after the first cycle, WATCHDOG=1 after the next ones, STOPPING=1 at the end", async () => {
    // A unix datagram socket as systemd listens on, every message it receives written out.
    const socket = path.join(tempDir("hop3-notify-"), "notify.sock");
    const listener = spawn("socat", ["-u", `UNIX-RECV:${socket}`, "-"], { stdio: ["ignore", "pipe", "inherit"] });
    let received = "";
    listener.stdout.on("data", (chunk: Buffer) => (received += chunk.toString()));
    try {
      await eventually(() => existsSync(socket), 5000, "the notify socket");
      const e = await exporter({ env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: "30000000" } });
      await eventually(() => received.includes("READY=1"), 15_000, "READY=1");
      // Ready means what /-/ready means: the first cycle is in.
      expect((await fetch(`${e.url}/-/ready`)).status).toBe(200);
      expect(received).toContain(`MAINPID=${e.process.pid}`);
      expect(received).toMatch(/STATUS=\d+ checks: ✓ all OK/);
      await eventually(() => received.includes("WATCHDOG=1"), 15_000, "WATCHDOG=1");
      expect(await e.stop()).toBe(0);
      await eventually(() => received.includes("STOPPING=1"), 10_000, "STOPPING=1");
    } finally {
      listener.kill();
    }
  });
});

describe("protection", () => {
  it("serves over TLS and refuses requests without the right basic auth credentials", async () => {
    const dir = tempDir();
    const { pem, keyPem } = await makeCertificate({ domain: "localhost", notAfterDays: 30 });
    await writeFile(path.join(dir, "tls.crt"), pem);
    await writeFile(path.join(dir, "tls.key"), keyPem);
    const hash = await bcrypt.hash("scrape-me", 4);
    const e = await exporter({
      scheme: "https",
      waitHealthy: false,
      config: `[web]\ntls_cert_file = "${dir}/tls.crt"\ntls_key_file = "${dir}/tls.key"\n[web.basic_auth_users]\nprometheus = "${hash}"\n`,
    });
    const get = (pathname: string, auth?: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const request = https.get(
          { host: "127.0.0.1", port: e.port, path: pathname, ca: pem, servername: "localhost", headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {} },
          (res) => {
            let body = "";
            res.on("data", (c: Buffer) => (body += c.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        request.on("error", reject);
      });
    await eventually(() => get("/-/healthy", "prometheus:scrape-me").then((r) => r.status === 200), 20_000, "https healthy");
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", "prometheus:wrong")).status).toBe(401);
    expect((await get("/metrics", "someone:scrape-me")).status).toBe(401);
    expect((await get("/-/healthy")).status).toBe(401);
    const ok = await get("/metrics", "prometheus:scrape-me");
    expect(ok.status).toBe(200);
    expect(ok.body).toContain("hop3_exporter_build_info");
    // Plain HTTP is not served on a TLS port.
    await expect(fetch(`http://127.0.0.1:${e.port}/-/healthy`)).rejects.toThrow();
    // `status --url` says how to trust a self-signed exporter certificate, and trusts it when told to.
    const untrusted = await runCli(["status", "--url", `https://prometheus:scrape-me@localhost:${e.port}`]);
    expect(untrusted.code).toBe(3);
    expect(untrusted.stderr).toContain(`https://localhost:${e.port}: its TLS certificate is not trusted here`);
    expect(untrusted.stderr).toContain(`trust it here with NODE_EXTRA_CA_CERTS=/path/to/its-cert.pem hop3-health status --url https://localhost:${e.port}`);
    await eventually(
      async () => (await runCli(["status", "--url", `https://prometheus:scrape-me@localhost:${e.port}`, "--quiet"], { NODE_EXTRA_CA_CERTS: path.join(dir, "tls.crt") })).stderr === "",
      20_000,
      "the report over TLS once its certificate is trusted",
    );
    // A wrong password is not "credentials needed".
    const wrong = await runCli(["status", "--url", `https://prometheus:wrong@localhost:${e.port}`], { NODE_EXTRA_CA_CERTS: path.join(dir, "tls.crt") });
    expect(wrong.stderr).toBe(`hop3-health: credentials refused: https://localhost:${e.port} did not accept that user and password (HTTP 401)\n`);
  });

  it("reads exporter-toolkit's web config: client certificates, headers, basic auth, a renewed certificate, --web.listen-address", async () => {
    const dir = tempDir();
    const serverCa = await makeAuthority("Server CA");
    const clientCa = await makeAuthority("Client CA");
    const stranger = await makeAuthority("Another CA");
    const serverCert = await makeCertificate({ domain: "localhost", notAfterDays: 30, issuer: serverCa });
    const client = await makeCertificate({ domain: "prometheus", notAfterDays: 30, issuer: clientCa });
    const impostor = await makeCertificate({ domain: "prometheus", notAfterDays: 30, issuer: stranger });
    await writeFile(path.join(dir, "tls.crt"), serverCert.pem);
    await writeFile(path.join(dir, "tls.key"), serverCert.keyPem);
    await writeFile(path.join(dir, "clients.pem"), clientCa.cert.toString("pem"));
    const hash = await bcrypt.hash("scrape-me", 4);
    // The same file node_exporter reads; relative paths are taken from its folder.
    await writeFile(
      path.join(dir, "web.yml"),
      `tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients.pem\n  min_version: TLS12\n` +
        `http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000\n    X-Frame-Options: deny\nbasic_auth_users:\n  prometheus: ${hash}\n`,
    );
    const port = await closedPort();
    const e = await exporter({ scheme: "https", waitHealthy: false, args: ["--web.config.file", path.join(dir, "web.yml"), "--web.listen-address", `127.0.0.1:${port}`] });
    const get = (identity: { pem: string; keyPem: string } | null, auth = "prometheus:scrape-me"): Promise<{ status: number; headers: Record<string, unknown>; serial: string }> =>
      new Promise((resolve, reject) => {
        const request = https.get(
          {
            host: "127.0.0.1",
            port,
            path: "/metrics",
            ca: serverCa.cert.toString("pem"),
            servername: "localhost",
            agent: false,
            ...(identity ? { cert: identity.pem, key: identity.keyPem } : {}),
            headers: { authorization: `Basic ${Buffer.from(auth).toString("base64")}` },
          },
          (res) => {
            const socket = res.socket;
            const serial = socket instanceof TLSSocket ? socket.getPeerCertificate().serialNumber : "";
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, serial }));
          },
        );
        request.on("error", reject);
      });
    const first = await eventually(() => get(client).catch(() => undefined), 20_000, "https with a client certificate");
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ "strict-transport-security": "max-age=31536000", "x-frame-options": "deny" });
    expect((await get(client, "prometheus:wrong")).status).toBe(401);
    // No client certificate, or one from another CA: no TLS session at all.
    await expect(get(null)).rejects.toThrow();
    await expect(get(impostor)).rejects.toThrow();

    // Renewed on disk: new connections get the new certificate, with no restart.
    const renewed = await makeCertificate({ domain: "localhost", notAfterDays: 90, issuer: serverCa });
    await writeFile(path.join(dir, "tls.key"), renewed.keyPem);
    await writeFile(path.join(dir, "tls.crt"), renewed.pem);
    const newSerial = new X509Certificate(renewed.pem).serialNumber;
    await eventually(async () => (await get(client)).serial === newSerial, 20_000, "the renewed certificate served");
    expect(e.logs().some((l) => l.includes("TLS certificate or key changed on disk"))).toBe(true);
  });

  it("takes a write (a reload) from a client with a verified certificate, with no basic auth", async () => {
    const dir = tempDir();
    const serverCa = await makeAuthority("Server CA");
    const clientCa = await makeAuthority("Client CA");
    const serverCert = await makeCertificate({ domain: "localhost", notAfterDays: 30, issuer: serverCa });
    const client = await makeCertificate({ domain: "ops", notAfterDays: 30, issuer: clientCa });
    await writeFile(path.join(dir, "tls.crt"), serverCert.pem);
    await writeFile(path.join(dir, "tls.key"), serverCert.keyPem);
    await writeFile(path.join(dir, "clients.pem"), clientCa.cert.toString("pem"));
    await writeFile(path.join(dir, "web.yml"), "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: clients.pem\n");
    const port = await closedPort();
    await exporter({ scheme: "https", waitHealthy: false, args: ["--web.config.file", path.join(dir, "web.yml"), "--web.listen-address", `127.0.0.1:${port}`] });
    const reload = (identity: { pem: string; keyPem: string } | null): Promise<number> =>
      new Promise((resolve, reject) => {
        const request = https.request(
          { host: "127.0.0.1", port, method: "POST", path: "/-/reload", ca: serverCa.cert.toString("pem"), servername: "localhost", agent: false, ...(identity ? { cert: identity.pem, key: identity.keyPem } : {}) },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        request.on("error", reject);
        request.end();
      });
    // Without a certificate the session is allowed (reads stay open), the write is not.
    expect(await eventually(() => reload(null).catch(() => undefined), 20_000, "https")).toBe(403);
    expect(await reload(client)).toBe(200);
  });

  it("refuses a bad web config file at start, naming the file and key, and never the value of a secret", async () => {
    const dir = tempDir();
    const file = path.join(dir, "web.yml");
    await writeFile(file, "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: RequireAndVerifyClientCert\nbasic_auth_users:\n  prometheus: plain-password\nhttp_server_config:\n  headers:\n    X-Frame-Options: \"DENY\\r\\nSet-Cookie: x=1\"\n");
    const e = await exporter({ waitHealthy: false, args: ["--web.config.file", file] });
    const code = await new Promise<number | null>((resolve) => (e.process.exitCode !== null ? resolve(e.process.exitCode) : e.process.once("close", resolve)));
    expect(code).toBe(3);
    const said = e.logs().join("\n");
    expect(said).toContain(`web config file ${file}: tls_server_config.client_ca_file: client_ca_file is needed to verify client certificates`);
    expect(said).toContain(`web config file ${file}: basic_auth_users.prometheus: expected a bcrypt hash`);
    // A header value with a line break would end the header there: refused, not a server that hangs every answer.
    expect(said).toContain(`web config file ${file}: http_server_config.headers: a header value may not hold line breaks or other control characters`);
    expect(said).not.toContain("plain-password");
  });

  it("lets `status --url` give basic auth credentials in the URL", async () => {
    const hash = await bcrypt.hash("let-me-see", 4);
    const e = await exporter({ waitHealthy: false, config: `[web.basic_auth_users]\noperator = "${hash}"\n` });
    const withCredentials = `http://operator:let-me-see@127.0.0.1:${e.port}`;
    await eventually(async () => (await runCli(["status", "--url", withCredentials, "--quiet"])).code === 0, 15_000, "an authenticated report");
    const without = await runCli(["status", "--url", e.url]);
    expect(without.code).toBe(3);
    expect(without.stderr).toBe(`hop3-health: credentials needed: http://127.0.0.1:${e.port} wants basic auth; give them in the URL, before the host: user:password@127.0.0.1:${e.port}\n`);
    expect(without.stderr + without.stdout).not.toContain("let-me-see");
  });

  it("refuses bad TLS and auth configuration at start, naming the key", async () => {
    const dir = tempDir();
    const { pem } = await makeCertificate({ domain: "localhost", notAfterDays: 30 });
    const other = await makeCertificate({ domain: "other", notAfterDays: 30 });
    await writeFile(path.join(dir, "tls.crt"), pem);
    await writeFile(path.join(dir, "other.key"), other.keyPem);
    const cases: Array<[string, RegExp]> = [
      [`[web]\ntls_cert_file = "${dir}/missing.crt"\ntls_key_file = "${dir}/other.key"\n`, /web\.tls_cert_file: cannot read .*missing\.crt: ENOENT/],
      [`[web]\ntls_cert_file = "${dir}/tls.crt"\ntls_key_file = "${dir}/other.key"\n`, /web\.tls_cert_file \/ web\.tls_key_file: not a usable certificate and key/],
      [`[web]\ntls_cert_file = "${dir}/tls.crt"\n`, /web\.tls_key_file: tls_cert_file and tls_key_file go together/],
      [`[web.basic_auth_users]\nprometheus = "plaintext-password"\n`, /web\.basic_auth_users\.prometheus: expected a bcrypt hash/],
    ];
    for (const [config, message] of cases) {
      const file = path.join(dir, "bad.toml");
      await writeFile(file, `hop3_root = "${dir}"\nlisten = "127.0.0.1:0"\n${config}`);
      const result = await runCli(["--config", file, "serve"]);
      expect(result.code, config).toBe(3);
      expect(result.stderr, config).toMatch(message);
      expect(result.stderr).not.toContain("plaintext-password");
    }
  });
});
