// The platform checks on a HOP3_ROOT and HOP3_ETC_DIR laid out as Hop3's installer lays them out
// (hop3-server.toml with the installer's keys; secret-key, redis-pass, s3-env and ssl/hop3.crt in
// the etc folder), with no hop3-health configuration, against this machine's PostgreSQL, MariaDB
// and Redis, an s3rver, a private password-checking PostgreSQL, local TLS listeners, and stand-in
// `systemctl` and `supervisorctl` commands. Nothing is written outside the tests' temp folders.

import { spawn } from "node:child_process";
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { makeCertificate } from "./helpers/certs.js";
import { itemsOf, runCli, tempDir, type JsonReport } from "./helpers/cli.js";
import { makeHop3Layout, serverToml } from "./helpers/hop3-layout.js";
import { requireSharedServers, startPostgres, startS3, type Listener } from "./helpers/servers.js";

const stops: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/** Values that must never be shown: they stand for the installer's generated secrets. */
const SECRETS = {
  secretKey: "etc-secret-key-5a1b2c3d",
  postgres: "hop3_pg_Pa55-word-in-toml",
  redis: "redis-pass-token-urlsafe-9x8y7z",
  s3: "minio-root-password-4q5w6e",
};

/** hop3-server.toml as the installer writes it, its MySQL superuser set to this machine's (root, no password). */
function installerToml(extra = ""): string {
  return [
    `HOP3_SECRET_KEY = "${SECRETS.secretKey}"`,
    'ADMIN_DOMAIN = "hop3.example.com"',
    'POSTGRES_HOST = "127.0.0.1"',
    `POSTGRES_SUPERUSER_PASSWORD = "${SECRETS.postgres}"`,
    'MYSQL_HOST = "127.0.0.1"',
    'MYSQL_SUPERUSER = "root"',
    'MYSQL_SUPERUSER_PASSWORD = ""',
    `HOP3_USER = ${JSON.stringify(os.userInfo().username)}`,
    extra,
  ].join("\n");
}

/** HOP3_ETC_DIR as the installer leaves it. s3rver takes only its own keys (S3RVER:S3RVER), so a test against it says so. */
async function makeEtc(options: { s3Port?: number; s3Keys?: string; redisPass?: boolean } = {}): Promise<string> {
  const etc = tempDir("hop3-etc-");
  await mkdir(path.join(etc, "ssl"));
  await writeFile(path.join(etc, "secret-key"), `${SECRETS.secretKey}\n`, { mode: 0o640 });
  if (options.redisPass !== false) await writeFile(path.join(etc, "redis-pass"), `${SECRETS.redis}\n`, { mode: 0o640 });
  if (options.s3Port !== undefined) await writeFile(path.join(etc, "s3-env"), `MC_HOST_hop3=http://${options.s3Keys ?? `hop3admin:${SECRETS.s3}`}@127.0.0.1:${options.s3Port}\n`, { mode: 0o640 });
  await writeFile(path.join(etc, "ssl", "hop3.crt"), (await makeCertificate({ domain: "localhost", notAfterDays: 365 })).pem, { mode: 0o644 });
  return etc;
}

/** `status --json` with no config file at all: HOP3_ROOT and HOP3_ETC_DIR, as a unit file would set them. */
async function zeroConfigStatus(root: string, etc: string, env: Record<string, string> = {}, uid?: number): Promise<{ code: number; stdout: string; stderr: string; report: JsonReport }> {
  const result = await runCli(["status", "--json"], { HOP3_ROOT: root, HOP3_ETC_DIR: etc, ...env }, uid !== undefined ? { uid } : {});
  return { ...result, report: JSON.parse(result.stdout) as JsonReport };
}

describe("backing services from Hop3's own files", () => {
  it("finds and passes PostgreSQL, MySQL, Redis and S3 with no configuration, and shows no secret", async () => {
    await requireSharedServers();
    const s3 = await startS3(["hop3-backups"]);
    stops.push(() => s3.close());
    const layout = await makeHop3Layout([], { serverToml: installerToml() });
    const etc = await makeEtc({ s3Port: s3.port, s3Keys: "S3RVER:S3RVER" });
    const { report, stdout, stderr } = await zeroConfigStatus(layout.root, etc);
    const items = itemsOf(report);
    const toml = path.join(layout.root, "hop3-server.toml");
    expect(items.postgresql).toMatchObject({ severity: "ok", details: { settings_from: `${toml} (POSTGRES_HOST, POSTGRES_SUPERUSER_PASSWORD)`, endpoint: "127.0.0.1:5432" } });
    expect(items.mysql).toMatchObject({ severity: "ok", details: { settings_from: `${toml} (MYSQL_HOST, MYSQL_SUPERUSER)`, user: "root" } });
    expect(items.redis).toMatchObject({
      severity: "ok",
      details: { url: "redis://:***@127.0.0.1:6379", settings_from: `Hop3's Redis at 127.0.0.1:6379, password from ${etc}/redis-pass` },
    });
    expect(items.s3).toMatchObject({ severity: "ok", detail: `1 bucket reachable at 127.0.0.1:${s3.port}`, details: { settings_from: `${etc}/s3-env (MC_HOST_hop3)` } });
    expect(items["server-config"]).toMatchObject({ severity: "ok", detail: `present, secret key set in ${etc}/secret-key` });
    for (const secret of Object.values(SECRETS)) expect(stdout + stderr).not.toContain(secret);
  });

  it("takes Hop3's URL keys and the environment, in Hop3's order; explicit settings win", async () => {
    await requireSharedServers();
    const layout = await makeHop3Layout([], { serverToml: installerToml('POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"\nMYSQL_ADMIN_URL = "mysql+pymysql://root@127.0.0.1:3306/test"') });
    const etc = await makeEtc({ redisPass: false });
    const { report } = await zeroConfigStatus(layout.root, etc);
    const items = itemsOf(report);
    const toml = path.join(layout.root, "hop3-server.toml");
    expect(items.postgresql).toMatchObject({ severity: "ok", details: { settings_from: `${toml} POSTGRES_URL`, database: "test" } });
    expect(items.mysql).toMatchObject({ severity: "ok", details: { settings_from: `${toml} MYSQL_ADMIN_URL`, database: "test" } });
    // No redis-pass and no addons/redis: this server does not use Redis.
    expect(items.redis).toBeUndefined();

    // The process environment before the file, as Hop3 reads it; the contract's variable above both.
    const fromEnv = itemsOf((await zeroConfigStatus(layout.root, etc, { POSTGRES_ADMIN_URL: "postgresql://postgres@127.0.0.1:5432/postgres" })).report);
    expect(fromEnv.postgresql).toMatchObject({ severity: "ok", details: { settings_from: "environment variable POSTGRES_ADMIN_URL", database: "postgres" } });
    const explicit = itemsOf((await zeroConfigStatus(layout.root, etc, { HOP3_POSTGRES_URL: "postgresql://postgres@127.0.0.1:5432/test" })).report);
    expect(explicit.postgresql!.details.settings_from).toBeUndefined();

    // Redis is Hop3's when it keeps addons in it.
    await mkdir(path.join(layout.root, "addons", "redis"), { recursive: true });
    const withAddons = itemsOf((await zeroConfigStatus(layout.root, etc)).report);
    expect(withAddons.redis).toMatchObject({ severity: "ok", details: { url: "redis://127.0.0.1:6379" } });
  });

  it("a wrong password in hop3-server.toml fails PostgreSQL, naming the key and never the password", async () => {
    const pg = await startPostgres("the-right-one");
    stops.push(() => pg.close());
    const layout = await makeHop3Layout([], { serverToml: installerToml().replace('POSTGRES_HOST = "127.0.0.1"', `POSTGRES_HOST = "127.0.0.1"\nPOSTGRES_PORT = ${pg.port}`) });
    const etc = await makeEtc({ redisPass: false });
    const wrong = await zeroConfigStatus(layout.root, etc);
    const toml = path.join(layout.root, "hop3-server.toml");
    expect(itemsOf(wrong.report).postgresql).toMatchObject({
      severity: "fail",
      detail: `authentication failed for user postgres (127.0.0.1:${pg.port}) — password from ${toml} POSTGRES_SUPERUSER_PASSWORD`,
    });
    expect(wrong.stdout + wrong.stderr).not.toContain(SECRETS.postgres);
    await writeFile(toml, installerToml(`POSTGRES_PORT = ${pg.port}`).replace(SECRETS.postgres, "the-right-one"));
    expect(itemsOf((await zeroConfigStatus(layout.root, etc)).report).postgresql).toMatchObject({ severity: "ok" });
  });

  it("says a file hop3-health may not read is unreadable, and what to do, instead of failing the service", async () => {
    const layout = await makeHop3Layout([], { serverToml: installerToml() });
    const etc = await makeEtc({ s3Port: 9 });
    await chmod(layout.root, 0o755);
    await chmod(path.join(layout.root, "hop3-server.toml"), 0o600);
    const { report, stdout } = await zeroConfigStatus(layout.root, etc, {}, 65534);
    const items = itemsOf(report);
    const hint = "permission denied — run hop3-health as user hop3 or in group hop3";
    expect(items.redis).toMatchObject({ severity: "warn", detail: `cannot read ${etc}/redis-pass: ${hint}`, details: { reason: "permission" } });
    expect(items.s3).toMatchObject({ severity: "warn", detail: `cannot read ${etc}/s3-env: ${hint}` });
    expect(items["server-config"]).toMatchObject({ severity: "warn", detail: `cannot read ${path.join(layout.root, "hop3-server.toml")}: ${hint}` });
    for (const secret of Object.values(SECRETS)) expect(stdout).not.toContain(secret);
  });
});

describe("certificates where Hop3 writes them", () => {
  it("finds each one once, names it by its domain and says in which files", async () => {
    const layout = await makeHop3Layout([{ name: "shop", hostName: "shop.example.test" }], { serverToml: installerToml() });
    const etc = await makeEtc({ redisPass: false });
    const root = layout.root;
    const shop = await makeCertificate({ domain: "shop.example.test", notAfterDays: 60 });
    const blog = await makeCertificate({ domain: "blog.example.test", notAfterDays: 2 });
    const old = await makeCertificate({ domain: "old.example.test", notAfterDays: -3 });
    await writeFile(path.join(root, "certificates", "shop.example.test.crt"), shop.pem);
    await writeFile(path.join(root, "nginx", "shop.crt"), shop.pem);
    await mkdir(path.join(root, "certbot/config/live/blog.example.test"), { recursive: true });
    await writeFile(path.join(root, "certbot/config/live/blog.example.test/fullchain.pem"), blog.pem);
    await mkdir(path.join(root, "nginx/ssl"), { recursive: true });
    await writeFile(path.join(root, "nginx/ssl/old.crt"), old.pem);
    // No nginx here: the served comparison finds nothing listening and says nothing.
    const result = await runCli(["--config", await sslConfig(root, etc, "127.0.0.1:9"), "status", "--json"]);
    const items = itemsOf(JSON.parse(result.stdout) as JsonReport);
    const ssl = Object.keys(items).filter((id) => id.startsWith("ssl:")).sort();
    expect(ssl).toEqual(["ssl:blog.example.test", "ssl:localhost", "ssl:old.example.test", "ssl:shop.example.test"]);
    expect(items["ssl:shop.example.test"]).toMatchObject({
      severity: "warn",
      details: { files: [path.join(root, "certificates/shop.example.test.crt"), path.join(root, "nginx/shop.crt")] },
    });
    expect(items["ssl:blog.example.test"]).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^expires in (1|2) days? /) });
    expect(items["ssl:old.example.test"]).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^expired 3 days ago/) });
    expect(items["ssl:localhost"]).toMatchObject({ details: { source: path.join(etc, "ssl/hop3.crt") } });
    expect(items.ssl).toMatchObject({ severity: "ok", detail: "4 certificates found" });
  });

  it("warns when the file was renewed but nginx still serves the old certificate", async () => {
    const layout = await makeHop3Layout([{ name: "shop", hostName: "shop.example.test www.shop.example.test" }], { serverToml: installerToml() });
    const etc = await makeEtc({ redisPass: false });
    const renewed = await makeCertificate({ domain: "shop.example.test", notAfterDays: 90 });
    const stale = await makeCertificate({ domain: "shop.example.test", notAfterDays: 2 });
    await writeFile(path.join(layout.root, "certificates", "shop.example.test.crt"), renewed.pem);
    // nginx, standing in: serves the old certificate for the app's name (SNI).
    const names: string[] = [];
    const listener = await tlsListener(stale, (name) => names.push(name));
    const result = await runCli(["--config", await sslConfig(layout.root, etc, `127.0.0.1:${listener.port}`), "status", "--json"]);
    const item = itemsOf(JSON.parse(result.stdout) as JsonReport)["ssl:shop.example.test"]!;
    expect(item).toMatchObject({ severity: "fail", detail: "renewed on disk but nginx still serves the old one for shop.example.test (expires in 1 day): reload nginx" });
    expect(names).toContain("shop.example.test");
    // Once nginx serves the renewed file, all is well again.
    const fresh = await tlsListener(renewed);
    const again = await runCli(["--config", await sslConfig(layout.root, etc, `127.0.0.1:${fresh.port}`), "status", "--json"]);
    expect(itemsOf(JSON.parse(again.stdout) as JsonReport)["ssl:shop.example.test"]).toMatchObject({ severity: "warn", detail: expect.stringMatching(/^self-signed/) });
  });
});

async function sslConfig(root: string, etc: string, servedAt: string): Promise<string> {
  const file = path.join(root, `ssl-${Date.now()}.toml`);
  await writeFile(file, `hop3_root = "${root}"\nhop3_etc_dir = "${etc}"\n[checks.ssl]\nserved_at = "${servedAt}"\n`);
  return file;
}

it("compares a certificate only for the names of the app it is the copy for: another tenant's HOST_NAME under the same wildcard changes nothing", async () => {
  const layout = await makeHop3Layout([{ name: "shop", hostName: "shop.example.test" }, { name: "evil", hostName: "evil.example.test" }], { serverToml: installerToml() });
  const etc = await makeEtc({ redisPass: false });
  const wildcard = await makeCertificate({ domain: "*.example.test", notAfterDays: 90 });
  const tenant = await makeCertificate({ domain: "evil.example.test", notAfterDays: 5 });
  await writeFile(path.join(layout.root, "nginx", "shop.crt"), wildcard.pem);
  // nginx, standing in: the wildcard for shop's name, the tenant's own certificate for its name.
  const names: string[] = [];
  const server = tls.createServer({
    cert: wildcard.pem,
    key: wildcard.keyPem,
    SNICallback: (name, done) => {
      names.push(name);
      done(null, name === "evil.example.test" ? tls.createSecureContext({ cert: tenant.pem, key: tenant.keyPem }) : undefined);
    },
  });
  server.on("secureConnection", (socket) => socket.end());
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const result = await runCli(["--config", await sslConfig(layout.root, etc, `127.0.0.1:${(server.address() as { port: number }).port}`), "status", "--json"]);
  const item = Object.values(itemsOf(JSON.parse(result.stdout) as JsonReport)).find((i) => (i.details.files as string[] | undefined)?.includes(path.join(layout.root, "nginx/shop.crt")))!;
  expect(names).toContain("shop.example.test");
  expect(names).not.toContain("evil.example.test");
  expect(item.detail).not.toMatch(/nginx serves another certificate|reload nginx/);
});

async function tlsListener(cert: { pem: string; keyPem: string }, onName?: (name: string) => void): Promise<Listener> {
  const server = tls.createServer({ cert: cert.pem, key: cert.keyPem, SNICallback: (name, done) => (onName?.(name), done(null, undefined)) });
  server.on("secureConnection", (socket) => socket.end());
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const listener = { port: (server.address() as { port: number }).port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  stops.push(() => listener.close());
  return listener;
}

describe("services as Hop3 installs them", () => {
  /** A folder with stand-in `systemctl` and `supervisorctl` that answer from files the test writes. */
  async function standIns(): Promise<string> {
    const bin = tempDir("hop3-bin-");
    await writeFile(
      path.join(bin, "systemctl"),
      `#!/bin/sh
# show --property=LoadState --value UNIT | is-active UNIT
dir="$(dirname "$0")"
case "$1" in
  show) unit="$4"; if [ -f "$dir/units/$unit" ]; then echo loaded; else echo not-found; fi ;;
  is-active) unit="$2"; state="$(cat "$dir/units/$unit" 2>/dev/null || echo inactive)"; echo "$state"; [ "$state" = active ] ;;
  *) exit 1 ;;
esac
`,
      { mode: 0o755 },
    );
    await writeFile(path.join(bin, "supervisorctl"), `#!/bin/sh\n[ "$1" = status ] && cat "$(dirname "$0")/supervisor-status" && exit 3\nexit 2\n`, { mode: 0o755 });
    await mkdir(path.join(bin, "units"));
    return bin;
  }

  it("reads systemd units, with hop3-rootd's socket, and supervisor programs where PID 1 is not systemd", async () => {
    const bin = await standIns();
    const layout = await makeHop3Layout([], { serverToml: installerToml() });
    const etc = await makeEtc({ redisPass: false });
    const socket = path.join(tempDir(), "rootd.sock");
    for (const [unit, state] of [["hop3-server.service", "active"], ["nginx.service", "active"], ["uwsgi-hop3.service", "failed"], ["hop3-rootd.socket", "active"]]) {
      await writeFile(path.join(bin, "units", unit!), state!);
    }
    const config = path.join(layout.root, "services.toml");
    const write = (manager: string): Promise<void> =>
      writeFile(config, `hop3_root = "${layout.root}"\nhop3_etc_dir = "${etc}"\nservice_manager = "${manager}"\n[checks.hop3-rootd]\nsocket = "${socket}"\n`);
    const status = async (): Promise<ReturnType<typeof itemsOf>> =>
      itemsOf(JSON.parse((await runCli(["--config", config, "status", "--json"], { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` })).stdout) as JsonReport);

    await write("systemd");
    const systemd = await status();
    expect(systemd["hop3-server"]).toMatchObject({ section: "Services", severity: "ok", detail: "running" });
    expect(systemd["uwsgi-emperor"]).toMatchObject({ severity: "fail", detail: "not running (uwsgi-hop3.service: failed)" });
    expect(systemd["hop3-rootd"]).toMatchObject({ severity: "fail", detail: `not usable: hop3-rootd.socket is active but its socket ${socket} is missing (deploys need it)` });
    await writeFile(socket, "");
    expect((await status())["hop3-rootd"]).toMatchObject({ severity: "ok", detail: "running", details: { systemd_unit: "hop3-rootd.socket" } });

    // Hop3's Docker image: supervisor, program names of its first layout (no rootd there).
    await writeFile(path.join(bin, "supervisor-status"), "sshd                             RUNNING   pid 10, uptime 1:00:00\nnginx                            RUNNING   pid 11, uptime 1:00:00\nuwsgi                            FATAL     Exited too quickly (process log may have details)\nhop3-server                      RUNNING   pid 13, uptime 1:00:00\n");
    await write("auto");
    // "auto" asks supervisorctl (a quarter of a second of Python) only while a supervisord runs.
    // Without one, no service manager is found, and no service is checked through one.
    expect(Object.values(await status()).filter((item) => item.section === "Services")).toEqual([]);
    const supervisord = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { argv0: "supervisord", stdio: "ignore" });
    onTestFinished(() => void supervisord.kill());
    const supervised = await status();
    expect(supervised.nginx).toMatchObject({ severity: "ok", detail: "running (pid 11, uptime 1:00:00)", details: { supervisor_program: "nginx" } });
    expect(supervised["uwsgi-emperor"]).toMatchObject({ severity: "fail", detail: "not running (supervisor: FATAL Exited too quickly (process log may have details))" });
    expect(supervised["hop3-rootd"]).toBeUndefined();
    // Its second layout: one file per service, rootd and uwsgi-hop3 among them.
    await writeFile(path.join(bin, "supervisor-status"), "hop3-rootd                       RUNNING   pid 20, uptime 0:10:00\nuwsgi-hop3                       STOPPED   Dec 01 05:00 AM\n");
    const second = await status();
    expect(second["hop3-rootd"]).toMatchObject({ severity: "ok", detail: "running (pid 20, uptime 0:10:00)" });
    expect(second["uwsgi-emperor"]).toMatchObject({ severity: "fail", detail: "not running (supervisor: STOPPED Dec 01 05:00 AM)" });
    expect(second.nginx).toBeUndefined();
  });
});

describe("identity", () => {
  it("takes the version and commit from build-info.json, else the server's dist-info", async () => {
    const layout = await makeHop3Layout([], { serverToml: serverToml() });
    const etc = await makeEtc({ redisPass: false });
    const site = path.join(layout.root, "venv/lib/python3.11/site-packages/hop3_server-0.5.0.dev3.dist-info");
    await mkdir(site, { recursive: true });
    await writeFile(path.join(site, "direct_url.json"), '{"url": "https://github.com/abilian/hop3", "vcs_info": {"vcs": "git", "commit_id": "0123abc"}}');
    const fromDistInfo = await zeroConfigStatus(layout.root, etc);
    expect(fromDistInfo.report.identity).toMatchObject({ version: "0.5.0.dev3", commit: "0123abc" });
    await writeFile(path.join(layout.root, "build-info.json"), '{"version": "0.6.0", "deploy_method": "git", "git_commit": "9f8e7d6", "git_branch": "main", "git_dirty": false}');
    const built = await zeroConfigStatus(layout.root, etc);
    expect(built.report.identity).toMatchObject({ version: "0.6.0", commit: "9f8e7d6" });
    await copyFile(path.join(layout.root, "build-info.json"), path.join(layout.root, "build-info.json.bak"));
    await writeFile(path.join(layout.root, "build-info.json"), "not json");
    expect((await zeroConfigStatus(layout.root, etc)).report.identity.version).toBe("0.5.0.dev3");
  });
});
