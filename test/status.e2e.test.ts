// `hop3-health status` as a user runs it: the built binary against a temporary HOP3_ROOT.

import { spawn, type ChildProcess } from "node:child_process";
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { makeAuthority, makeCertificate } from "./helpers/certs.js";
import { itemsOf as items, makeHop3Root, runCli, tempDir, testServerToml, type JsonReport } from "./helpers/cli.js";
import { closedPort } from "./helpers/servers.js";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
});

describe("hop3-health status", () => {
  it("--json gives each check's history from the exporter's event log, and leaves the log as it was", async () => {
    const { configFile, root } = await makeHop3Root();
    const now = Date.now();
    const hoursAgo = (h: number): string => new Date(now - h * 3_600_000).toISOString();
    // The log a running exporter left: the disk check ok from a day ago, failing for 6 hours of it;
    // the last line torn by a crash (status must not mend it: the exporter owns the file).
    const log = [
      { time: hoursAgo(24), kind: "transition", check: "disk-usage", from: null, to: "ok", message: "ok" },
      { time: hoursAgo(12), kind: "transition", check: "disk-usage", from: "ok", to: "fail", message: "full" },
      { time: hoursAgo(6), kind: "transition", check: "disk-usage", from: "fail", to: "ok", message: "ok" },
    ]
      .map((e) => JSON.stringify(e))
      .join("\n");
    // In the state directory the test config names (beside the root).
    await mkdir(`${root}.state`, { recursive: true });
    const file = path.join(`${root}.state`, "events.jsonl");
    await writeFile(file, `${log}\n{"time": "torn`);
    const result = await runCli(["--config", configFile, "status", "--json"]);
    expect(result.code).toBe(0);
    const disk = items(JSON.parse(result.stdout) as JsonReport)["disk-usage"]!;
    expect(disk.history?.since).toBe(hoursAgo(6));
    expect(disk.history?.uptime_24h).toBeCloseTo(18 / 24, 3);
    // Six hours are 12 half hours; the run began a moment after the log was laid out, so the edges may touch a 13th.
    expect(disk.history?.bars.filter((b) => b === "fail").length).toBeGreaterThanOrEqual(12);
    expect(disk.history?.bars.filter((b) => b === "fail").length).toBeLessThanOrEqual(13);
    // A check the log never saw: no figures made up.
    expect(items(JSON.parse(result.stdout) as JsonReport)["hop3-user"]?.history).toEqual({ since: null, uptime_24h: null, uptime_7d: null, bars: Array(48).fill(null), observed_since: null });
    expect(await readFile(file, "utf8")).toBe(`${log}\n{"time": "torn`);
    // Without --json, the log is not read: the text report is as ever.
    expect((await runCli(["--config", configFile, "status"])).stdout).not.toContain("uptime");
  });

  it("all ok: the report, a ✓ per check, the summary line and exit 0", async () => {
    const { configFile, root } = await makeHop3Root();
    const result = await runCli(["--config", configFile, "status"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^Hop3 server: test-host \(203\.0\.113\.7\) — v0\.5\.0 — up (\d+d \d+h|\d+h \d+m)$/);
    const line = (name: string, detail: string): string => `  ${name.padEnd(15)} ✓ ${detail}\n`;
    expect(result.stdout).toContain(
      `\nFilesystem\n${line("HOP3_ROOT", `writable (${root})`)}${line("Apps directory", `writable (${root}/apps)`)}${line("Nginx config", `writable (${root}/nginx)`)}` +
        `${line("uWSGI available", `writable (${root}/uwsgi-available)`)}${line("uWSGI enabled", `writable (${root}/uwsgi-enabled)`)}` +
        `${line("hop3 user", `${os.userInfo().username} exists (uid ${os.userInfo().uid})`)}${line("Disk usage", "")}`.trimEnd(),
    );
    expect(result.stdout).toContain(`\nConfiguration\n  Server config   ✓ present, secret key set in ${root}/hop3-server.toml (HOP3_SECRET_KEY, as older servers keep it)\n`);
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("Status: ✓ all OK");
    // Not on a terminal: no colour codes.
    expect(result.stdout).not.toContain("\x1b[");
    // The secret key's value is never shown.
    expect(result.stdout).not.toContain("s3cr3t-value-for-tests");

    const quiet = await runCli(["--config", configFile, "status", "--quiet"]);
    expect(quiet).toMatchObject({ code: 0, stdout: "OK\n" });
  });

  it("a warning: exit 1 and a DEGRADED: quiet line", async () => {
    const { configFile, root } = await makeHop3Root();
    const certDir = path.join(root, "nginx/ssl");
    await mkdir(certDir, { recursive: true });
    await writeFile(path.join(certDir, "hop3.crt"), (await makeCertificate({ domain: "self.example.test", notAfterDays: 365 })).pem);

    const text = await runCli(["--config", configFile, "status"]);
    expect(text.code).toBe(1);
    // Names are aligned within a section.
    expect(text.stdout).toContain(`\nCertificates\n  ${"SSL".padEnd(21)} ✓ 1 certificate found\n  SSL self.example.test ⚠ self-signed (Let's Encrypt not configured)\n`);
    expect(text.stdout).toContain("Status: ⚠ 1 warning\n");

    const quiet = await runCli(["--config", configFile, "status", "--quiet"]);
    expect(quiet.code).toBe(1);
    expect(quiet.stdout).toBe("DEGRADED: SSL self.example.test self-signed (Let's Encrypt not configured)\n");
  });

  it("a failure: exit 2, FAILED: with failures first, and the summary counts both", async () => {
    const { configFile, root } = await makeHop3Root();
    await rm(path.join(root, "hop3-server.toml"));
    await writeFile(path.join(root, "hop3-server.toml"), testServerToml('HOP3_LOG_LEVEL = "INFO"'));
    const certDir = path.join(root, "nginx/ssl");
    await mkdir(certDir, { recursive: true });
    await writeFile(path.join(certDir, "a.crt"), (await makeCertificate({ domain: "self.example.test", notAfterDays: 365 })).pem);

    const text = await runCli(["--config", configFile, "status"]);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain(`Server config   ✗ HOP3_SECRET_KEY is not set (required for authentication): not in ${root}/etc-hop3/secret-key, nor in ${root}/hop3-server.toml`);
    expect(text.stdout).toContain("Status: ✗ 1 failure, 1 warning\n");
    const quiet = await runCli(["--config", configFile, "status", "--quiet"]);
    expect(quiet.code).toBe(2);
    expect(quiet.stdout).toBe(
      `FAILED: Server config HOP3_SECRET_KEY is not set (required for authentication): not in ${root}/etc-hop3/secret-key, nor in ${root}/hop3-server.toml; SSL self.example.test self-signed (Let's Encrypt not configured)\n`,
    );
  });

  it("as a Nagios plugin: --check runs one check and exits by its severity, --perfdata adds performance data", async () => {
    const { configFile, root, writeConfig } = await makeHop3Root();
    const ok = await runCli(["--config", configFile, "status", "--check", "disk-usage", "--perfdata"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      new RegExp(`^OK: Disk usage \\d+% used on ${root} \\([^)]+\\) \\| 'disk_available'=\\d+B;;;0;\\d+ 'disk_usage'=[\\d.]+%;99\\.98;99\\.99;0;100 'disk-usage_duration'=[\\d.]+s;;;0\n$`),
    );

    // A disk over the warning threshold: exit 1, and the thresholds in the performance data.
    await writeConfig("[checks.disk-usage]\nwarn_percent = 0.01\nfail_percent = 99.99\n");
    const warn = await runCli(["--config", configFile, "status", "--check", "disk-usage", "--perfdata"]);
    expect(warn.code).toBe(1);
    expect(warn.stdout).toMatch(/^DEGRADED: Disk usage \d+% used on .* 'disk_usage'=[\d.]+%;0\.01;99\.99;0;100 /);

    // A failing check: exit 2, whatever the others say.
    await rm(path.join(root, "hop3-server.toml"));
    await writeFile(path.join(root, "hop3-server.toml"), testServerToml('HOP3_LOG_LEVEL = "INFO"'));
    const fail = await runCli(["--config", configFile, "status", "--check", "server-config"]);
    expect(fail).toMatchObject({ code: 2, stdout: expect.stringMatching(/^FAILED: Server config HOP3_SECRET_KEY is not set .*\n$/) as unknown });

    // What Nagios cannot act on is UNKNOWN (3), said on stdout, where Nagios reads.
    expect(await runCli(["--config", configFile, "status", "--check", "disk-usag"])).toMatchObject({
      code: 3,
      stdout: "UNKNOWN: no check disk-usag on this server — did you mean disk-usage?\n",
    });
    expect(await runCli(["--config", configFile, "status", "--check", "postgresql"])).toMatchObject({
      code: 3,
      stdout: "UNKNOWN: postgresql is not configured on this server: it would be skipped\n",
    });
    expect((await runCli(["--config", configFile, "status", "--perfdata"])).code).toBe(3);

    // The whole report on one line, with every check's duration.
    const quiet = await runCli(["--config", configFile, "status", "--quiet", "--perfdata"]);
    expect(quiet.code).toBe(2);
    expect(quiet.stdout).toMatch(/^FAILED: Server config .* \| 'disk_available'=\d+B;;;0;\d+ 'disk_usage'=[\d.]+%;0\.01;99\.99;0;100 .*'hop3-root_duration'=[\d.]+s;;;0 .*'server-config_duration'=[\d.]+s;;;0\n$/);
  });

  it("--json: one object with identity, overall, sections, items and generated_at", async () => {
    const { configFile, root } = await makeHop3Root();
    const result = await runCli(["--config", configFile, "status", "--json"]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.identity).toMatchObject({ hostname: "test-host", ip: "203.0.113.7", version: "0.5.0" });
    expect(typeof report.identity.uptime).toBe("string");
    expect(report.overall).toBe("ok");
    expect(new Date(report.generated_at).toISOString()).toBe(report.generated_at);
    expect(report.sections.map((s) => s.title)).toEqual(["Filesystem", "Configuration"]);
    const root_ = items(report)["hop3-root"]!;
    expect(root_).toMatchObject({ check: "hop3-root", name: "HOP3_ROOT", severity: "ok", passed: true, detail: `writable (${root})`, details: { path: root } });
    expect(root_.duration_seconds).toBeGreaterThanOrEqual(0);
    const disk = items(report)["disk-usage"]!;
    expect((disk.details.paths as Array<{ path: string }>)[0]!.path).toBe(root);
  });

  it("exit 3 on bad usage and bad config, naming the key", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    await writeConfig("[checks.disk-usage]\nwarn_percent = \"lots\"\n");
    const bad = await runCli(["--config", configFile, "status"]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain(`config file ${configFile}: checks.disk-usage.warn_percent: expected a percentage, got "lots"`);

    const check = await runCli(["check-config", configFile]);
    expect(check.code).toBe(3);
    expect(check.stderr).toContain("checks.disk-usage.warn_percent");

    expect((await runCli(["status", "--bogus"])).code).toBe(3);
    expect((await runCli(["frobnicate"])).code).toBe(3);
    expect((await runCli([])).code).toBe(3);
    expect((await runCli(["--config", "/nonexistent.toml", "status"])).stderr).toContain("/nonexistent.toml (from --config): not found");
  });

  it("check-config: 0 for a valid file, 1 for a table that matches no check", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    const ok = await runCli(["check-config", configFile]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${configFile}: valid`);
    await writeConfig("[checks.disk_usage]\nenabled = false\n");
    const typo = await runCli(["check-config", configFile]);
    expect(typo.code).toBe(1);
    expect(typo.stdout).toContain("⚠ [checks.disk_usage] matches no check of this server");
  });

  it("a filesystem problem is a failure that says which", async () => {
    const { configFile, root } = await makeHop3Root();
    await rm(path.join(root, "apps"), { recursive: true });
    const missing = await runCli(["--config", configFile, "status", "--json"]);
    expect(missing.code).toBe(2);
    expect(items(JSON.parse(missing.stdout) as JsonReport)["apps-dir"]).toMatchObject({ severity: "fail", detail: `missing (${root}/apps)` });

    // The same tree seen by an unprivileged user: it cannot create a file there, but Hop3's user can.
    await mkdir(path.join(root, "apps"));
    await chmod(root, 0o755);
    await chmod(path.join(root, "apps"), 0o755);
    await chmod(configFile, 0o644);
    const me = os.userInfo().username;
    const asNobody = await runCli(["--config", configFile, "status", "--json"], {}, { uid: 65534 });
    const seen = items(JSON.parse(asNobody.stdout) as JsonReport);
    expect(seen["apps-dir"]).toMatchObject({ severity: "ok", detail: `writable by ${me} (mode 0755), not by user nobody that hop3-health runs as (${root}/apps)` });

    // Hop3's user cannot either: a failure that says who is who.
    await writeFile(path.join(root, "hop3-server.toml"), 'HOP3_SECRET_KEY = "k"\nHOP3_USER = "daemon"\n');
    const neither = items(JSON.parse((await runCli(["--config", configFile, "status", "--json"], {}, { uid: 65534 })).stdout) as JsonReport);
    expect(neither["hop3-root"]).toMatchObject({
      severity: "fail",
      detail: `not writable by user nobody; hop3-health runs as nobody, and daemon may not write here either (mode 0755) (${root})`,
      details: { reason: "permission" },
    });
    // hop3-health run as Hop3's own user, which cannot write: a plain failure.
    await writeFile(path.join(root, "hop3-server.toml"), 'HOP3_SECRET_KEY = "k"\nHOP3_USER = "nobody"\n');
    const asHop3 = await runCli(["--config", configFile, "status", "--json"], {}, { uid: 65534 });
    expect(asHop3.code).toBe(2);
    expect(items(JSON.parse(asHop3.stdout) as JsonReport)["apps-dir"]).toMatchObject({ severity: "fail", detail: `not writable by user nobody; hop3-health runs as nobody (${root}/apps)` });
  });

  it("certificates: self-signed, CA-issued, expiring, nearly expired, expired and garbage", async () => {
    const { configFile, root } = await makeHop3Root();
    const dir = path.join(root, "certs");
    await mkdir(dir);
    const ca = await makeAuthority();
    const write = async (file: string, options: Parameters<typeof makeCertificate>[0]): Promise<void> =>
      writeFile(path.join(dir, file), (await makeCertificate(options)).pem);
    await write("good.crt", { domain: "good.example.test", notAfterDays: 90, issuer: ca });
    await write("self.crt", { domain: "self.example.test", notAfterDays: 90 });
    await write("soon.crt", { domain: "soon.example.test", notAfterDays: 10.5, issuer: ca });
    await write("nearly.crt", { domain: "nearly.example.test", notAfterDays: 2.5, issuer: ca });
    await write("gone.crt", { domain: "gone.example.test", notBeforeDays: -90, notAfterDays: -2.5, issuer: ca });
    await writeFile(path.join(dir, "garbage.crt"), "this is not a certificate\n");
    await writeFile(configFile, `hop3_root = "${root}"\n[identity]\nhostname = "h"\n[checks.disk-usage]\nenabled = false\n[checks.ssl]\npaths = ["${dir}/*.crt"]\n`);

    const result = await runCli(["--config", configFile, "status", "--json"]);
    expect(result.code).toBe(2);
    const byId = items(JSON.parse(result.stdout) as JsonReport);
    expect(byId["ssl:good.example.test"]).toMatchObject({ section: "Certificates", severity: "ok", detail: expect.stringMatching(/^expires in (89|90) days \(\d{4}-\d\d-\d\d\)$/) });
    expect(byId["ssl:good.example.test"]!.details).toMatchObject({ self_signed: false, source: `${dir}/good.crt` });
    expect(byId["ssl:self.example.test"]).toMatchObject({ severity: "warn", detail: "self-signed (Let's Encrypt not configured)" });
    expect(byId["ssl:soon.example.test"]).toMatchObject({ severity: "warn", detail: expect.stringMatching(/^expires in 10 days/) });
    expect(byId["ssl:nearly.example.test"]).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^expires in 2 days/) });
    expect(byId["ssl:gone.example.test"]).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^expired 2 days ago/) });
    expect(byId.ssl).toMatchObject({ severity: "fail", detail: `not a certificate: ${dir}/garbage.crt` });

    // Thresholds are configurable.
    await writeFile(configFile, `hop3_root = "${root}"\n[checks.disk-usage]\nenabled = false\n[checks.ssl]\npaths = ["${dir}/soon.crt", "${dir}/good.crt"]\nwarn_days = 5\nfail_days = 1\n`);
    const relaxed = await runCli(["--config", configFile, "status", "--json"]);
    expect(items(JSON.parse(relaxed.stdout) as JsonReport)["ssl:soon.example.test"]?.severity).toBe("ok");
    expect(relaxed.code).toBe(0);
  });

  it("a service check sees a real running process, by name and by pidfile", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    const dir = tempDir();
    const binary = path.join(dir, "hop3-fakenginx");
    await copyFile("/bin/sleep", binary);
    await chmod(binary, 0o755);
    const child = spawn(binary, ["300"], { stdio: "ignore" });
    children.push(child);
    const pidfile = path.join(dir, "nginx.pid");
    await writeFile(pidfile, `${child.pid}\n`);
    await writeConfig(`[checks.nginx]\nprocess = "hop3-fakenginx"\n[checks.uwsgi-emperor]\npidfile = "${pidfile}"\n[checks.hop3-server]\nprocess = "hop3-not-running-anywhere"\n`);

    const result = await runCli(["--config", configFile, "status"]);
    expect(result.stdout).toContain(`\nServices\n  Hop3 Server     ✗ not running (no process named hop3-not-running-anywhere)\n  Nginx           ✓ running (pid ${child.pid})\n  uWSGI Emperor   ✓ running (pid ${child.pid})\n`);
    expect(result.code).toBe(2);

    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const after = await runCli(["--config", configFile, "status", "--json"]);
    const byId = items(JSON.parse(after.stdout) as JsonReport);
    expect(byId.nginx).toMatchObject({ severity: "fail", detail: "not running (no process named hop3-fakenginx)" });
    expect(byId["uwsgi-emperor"]).toMatchObject({ severity: "fail", detail: `not running (pid ${child.pid} from ${pidfile} is gone)` });
  });

  it("picks up an extra plugin directory with no code edit, and survives a broken plugin", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    const pluginDir = tempDir();
    await writeFile(
      path.join(pluginDir, "queue.mjs"),
      `export default {
        name: "queue",
        getHealthChecks: (ctx) => [{
          id: "queue", name: "Job queue", section: "Backing services",
          isConfigured: () => ctx.configFor("queue").enabled,
          check: async () => ({ name: "Job queue", passed: false, severity: "warn", message: "3 jobs waiting for 10m" }),
        }],
      };\n`,
    );
    await writeFile(path.join(pluginDir, "broken.mjs"), "export default { name: 'broken', getHealthChecks() { throw new Error('no config'); } };\n");
    await writeFile(path.join(pluginDir, "notaplugin.mjs"), "export const x = 1;\n");
    await writeConfig(`plugins = ["${pluginDir}"]\n`);

    const result = await runCli(["--config", configFile, "status", "--json"]);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as JsonReport;
    expect(report.sections.map((s) => s.title)).toEqual(["Backing services", "Filesystem", "Configuration"]);
    const byId = items(report);
    expect(byId.queue).toMatchObject({ section: "Backing services", name: "Job queue", severity: "warn", detail: "3 jobs waiting for 10m" });
    expect(byId["plugin:broken"]).toMatchObject({ section: "Configuration", severity: "fail", detail: "getHealthChecks() raised: no config" });
    expect(byId["plugin:notaplugin"]?.detail).toMatch(/notaplugin\.mjs is not a plugin/);

    // The same plugin, from HOP3_HEALTH_PLUGINS as one file.
    await writeConfig("");
    const viaEnv = await runCli(["--config", configFile, "status", "--quiet"], { HOP3_HEALTH_PLUGINS: path.join(pluginDir, "queue.mjs") });
    expect(viaEnv).toMatchObject({ code: 1, stdout: "DEGRADED: Job queue 3 jobs waiting for 10m\n" });

    // A plugin path that does not exist is a configuration error.
    const missing = await runCli(["--config", configFile, "status"], { HOP3_HEALTH_PLUGINS: "/nonexistent/plugins" });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('environment variable HOP3_HEALTH_PLUGINS: plugin "/nonexistent/plugins": no such file or directory');
  });

  it("shows the Hop3 version of an installed Hop3 server", async () => {
    const { configFile, root, writeConfig } = await makeHop3Root();
    await mkdir(path.join(root, "venv/lib/python3.11/site-packages/hop3_server-0.5.0.dev3.dist-info"), { recursive: true });
    await writeConfig('[identity]\nhostname = "h"\nip = "192.0.2.1"\n');
    const result = await runCli(["--config", configFile, "status"]);
    expect(result.stdout.split("\n")[0]).toMatch(/^Hop3 server: h \(192\.0\.2\.1\) — v0\.5\.0\.dev3 — up /);
  });
});

describe("certificates served at an endpoint", () => {
  it("fetches the served certificate, and says why when it cannot", async () => {
    const { pem, keyPem } = await makeCertificate({ domain: "served.example.test", notAfterDays: 20 });
    const server = tls.createServer({ cert: pem, key: keyPem }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const refused = await closedPort();
    try {
      const { configFile, writeConfig } = await makeHop3Root();
      await writeConfig(`[checks.ssl]\npaths = []\nendpoints = ["127.0.0.1:${port}", "localhost:${refused}"]\n`);
      const result = await runCli(["--config", configFile, "status", "--json"]);
      const byId = items(JSON.parse(result.stdout) as JsonReport);
      expect(byId["ssl:127.0.0.1"]).toMatchObject({ severity: "warn", detail: "self-signed (Let's Encrypt not configured)" });
      expect(byId["ssl:127.0.0.1"]!.details).toMatchObject({ source: `127.0.0.1:${port}`, subject_alt_names: "DNS:served.example.test" });
      expect(byId["ssl:localhost"]).toMatchObject({ severity: "fail", detail: `connection refused (localhost:${refused})` });
      expect(byId.ssl).toMatchObject({ severity: "ok", detail: "2 certificates found" });
    } finally {
      server.close();
    }
  });
});
