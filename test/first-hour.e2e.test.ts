// The first hour with hop3-health, as a new user and an operator trying things by hand live it:
// what `serve` says while it starts, a machine without Hop3, errors one can act on, usage and
// version, trial probes that count as no deploy, plugins from a folder of their own, and the
// npm package.

import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { makeCertificate } from "./helpers/certs.js";
import { itemsOf, makeHop3Root, REPO, runCli, tempDir, type JsonReport } from "./helpers/cli.js";
import { eventually, metricValue, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { makeHop3Layout, startAppProcess, type AppProcess } from "./helpers/hop3-layout.js";
import { closedPort, silentListener, type Listener } from "./helpers/servers.js";

const running: RunningExporter[] = [];
const listeners: Listener[] = [];
const processes: AppProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop("SIGKILL")));
});
afterAll(async () => {
  await Promise.all([...listeners.splice(0).map((l) => l.close()), ...processes.splice(0).map((p) => p.stop())]);
});

async function exporter(...args: Parameters<typeof startExporter>): Promise<RunningExporter> {
  const e = await startExporter(...args);
  running.push(e);
  return e;
}

describe("serve, starting", () => {
  it("listens first, says what it is doing, and then that it serves", async () => {
    const silent = await silentListener();
    listeners.push(silent);
    const e = await exporter({ config: `[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:${silent.port}/x"\ntimeout = 2\n` });
    // Healthy at once, while the backing services are still being checked; not ready yet.
    expect((await fetch(`${e.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${e.url}/-/ready`)).status).toBe(503);
    expect(e.logs().some((l) => l.includes(`"msg":"listening on http://127.0.0.1:${e.port}/; checking backing services…"`))).toBe(true);
    await eventually(() => e.logs().some((l) => l.includes(`serving on http://127.0.0.1:${e.port}/ — status page, /metrics`)), 15_000, "the serving line");
    const order = ["listening on", "PostgreSQL health check failed: timed out after 2s", "startup verification:", "serving on"].map((text) => e.logs().findIndex((l) => l.includes(text)));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("exits 0, saying so, on a signal during start-up", async () => {
    const silent = await silentListener();
    listeners.push(silent);
    const e = await exporter({ config: `[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:${silent.port}/x"\ntimeout = 20\n` });
    await eventually(() => e.logs().some((l) => l.includes("checking backing services")), 10_000, "start-up under way");
    expect(await e.stop("SIGTERM")).toBe(0);
    expect(e.logs().some((l) => l.includes("SIGTERM during start-up: stopping"))).toBe(true);
  });
});

describe("a machine without Hop3", () => {
  it("says so once, with what to do, instead of a column of red", async () => {
    for (const root of [path.join(tempDir(), "nowhere"), tempDir()]) {
      const result = await runCli(["status", "--json"], { HOP3_ROOT: root });
      const report = JSON.parse(result.stdout) as JsonReport;
      const notOk = report.sections.flatMap((s) => s.items).filter((i) => i.severity !== "ok");
      expect(notOk.map((i) => i.check), root).toEqual(["hop3-root"]);
      expect(notOk[0]!.detail).toMatch(/^no Hop3 installation here \((no folder .*|no hop3-server\.toml or apps\/ in .*)\): set HOP3_ROOT, or hop3_root in the config, to the folder Hop3 is installed in \(\/home\/hop3 by default\)$/);
      expect(result.code).toBe(2);
    }
  });
});

describe("errors one can act on", () => {
  it("from status --url: no scheme, the metrics endpoint, nothing there, TLS on a plain port and the reverse, no cycle yet", async () => {
    const refused = await closedPort();
    const cli = async (url: string): Promise<string> => (await runCli(["status", "--url", url])).stderr;
    expect(await cli(`127.0.0.1:${refused}`)).toBe(`hop3-health: --url "127.0.0.1:${refused}" has no scheme: did you mean http://127.0.0.1:${refused}?\n`);
    expect(await cli(`localhost:${refused}`)).toBe(`hop3-health: --url "localhost:${refused}" has no scheme: did you mean http://localhost:${refused}?\n`);
    expect(await cli(`http://127.0.0.1:${refused}/metrics`)).toBe(`hop3-health: --url points at /metrics: give the exporter's own address, such as http://127.0.0.1:${refused}\n`);
    expect(await cli(`http://127.0.0.1:${refused}`)).toBe(`hop3-health: nothing answers at http://127.0.0.1:${refused} (connection refused): is \`hop3-health serve\` running there?\n`);

    const slow = await silentListener();
    listeners.push(slow);
    const plain = await exporter({ waitHealthy: true, config: `[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:${slow.port}/x"\ntimeout = 5\n` });
    expect(await cli(plain.url)).toBe(`hop3-health: the exporter at ${plain.url} has not finished its first check cycle yet: try again in a few seconds\n`);
    expect(await cli(`https://127.0.0.1:${plain.port}`)).toBe(`hop3-health: https://127.0.0.1:${plain.port} does not speak TLS: did you mean http://127.0.0.1:${plain.port}?\n`);

    const dir = tempDir();
    const { pem, keyPem } = await makeCertificate({ domain: "localhost", notAfterDays: 30 });
    await writeFile(path.join(dir, "tls.crt"), pem);
    await writeFile(path.join(dir, "tls.key"), keyPem);
    const secure = await exporter({ scheme: "https", waitHealthy: false, config: `[web]\ntls_cert_file = "${dir}/tls.crt"\ntls_key_file = "${dir}/tls.key"\n` });
    await eventually(() => secure.logs().some((l) => l.includes("listening on https://")), 15_000, "the https exporter");
    expect(await cli(`http://127.0.0.1:${secure.port}`)).toBe(`hop3-health: http://127.0.0.1:${secure.port} closed the connection: if it serves HTTPS, did you mean https://127.0.0.1:${secure.port}?\n`);
  });

  it("did you mean: misspelt config keys, check tables and check keys", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    await writeConfig("intervl = 10\n");
    expect((await runCli(["check-config", configFile])).stderr).toContain(`config file ${configFile}: unknown key intervl — did you mean interval?`);
    await writeConfig("[checks.disk-usage]\nwarn_percnt = 70\n");
    expect((await runCli(["check-config", configFile])).stderr).toContain("unknown key checks.disk-usage.warn_percnt — did you mean warn_percent?");
    await writeConfig("[checks.postgresql]\ntimout = 3\n");
    expect((await runCli(["check-config", configFile])).stderr).toContain("unknown key checks.postgresql.timout — did you mean timeout?");
    await writeConfig("[checks.disk_usag]\nenabled = false\n");
    const table = await runCli(["check-config", configFile]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain("⚠ [checks.disk_usag] matches no check of this server — did you mean disk-usage?");
    expect((await runCli(["stauts"])).stderr).toContain('unknown command "stauts" — did you mean status?');
    // A misspelled table with its usual keys: the table is what is wrong, not the key.
    await writeConfig('[checks.postgres]\nurl = "postgresql://postgres@127.0.0.1/test"\n');
    expect((await runCli(["check-config", configFile])).stderr).toContain("unknown key checks.postgres.url — [checks.postgres] is no check's table: did you mean [checks.postgresql]?");
  });

  it("--version, each command's --help, and check-config naming its argument", async () => {
    const version = await runCli(["--version"]);
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^hop3-health \d+\.\d+\.\d+/) });
    for (const command of ["serve", "status", "probe", "check-config"]) {
      const help = await runCli([command, "--help"]);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(new RegExp(`^Usage: hop3-health .*${command}`));
    }
    expect((await runCli(["probe", "--help"])).stdout).toContain("--dry-run");
    const missing = path.join(tempDir(), "absent.toml");
    expect((await runCli(["check-config", missing])).stderr).toContain(`config file ${missing} (from the check-config argument): not found`);
    expect((await runCli(["--config", missing, "status"])).stderr).toContain(`config file ${missing} (from --config): not found`);
    const wrongOption = await runCli(["status", "--dry-run"]);
    expect(wrongOption.code).toBe(3);
    expect(wrongOption.stderr).toContain("status takes no --dry-run");
    expect(wrongOption.stderr).toContain("Usage: hop3-health [--config FILE] status");
    // An option no command knows: said with the command, a suggestion and that command's usage, not node's parser's words.
    const typo = await runCli(["status", "--jsn"]);
    expect(typo.code).toBe(3);
    expect(typo.stderr).toMatch(/^hop3-health: status takes no --jsn — did you mean --json\?\n\nUsage: hop3-health \[--config FILE\] status/);
    expect((await runCli(["probe", "web", "--contain", "ok"])).stderr).toContain("probe takes no --contain — did you mean --contains?");
    expect((await runCli(["--verion"])).stderr).toContain("hop3-health takes no --verion — did you mean --version?");
  });
});

describe("trial probes by hand", () => {
  it("probe --dry-run and record:false count no deploy; the API knows only this server's apps", async () => {
    const layout = await makeHop3Layout([{ name: "fh-trial", manifest: '[healthcheck]\npath = "/health"\n[run]\nstart-timeout = 1\n', workers: { web: 1 } }]);
    processes.push(await startAppProcess(layout, "fh-trial", "web", "error"));
    const e = await exporter({ root: layout.root, interval: 30 });
    const config = path.join(layout.root, "cli.toml");
    await writeFile(config, `hop3_root = "${layout.root}"\nlisten = "127.0.0.1:${e.port}"\n`);
    const dry = await runCli(["--config", config, "probe", "fh-trial", "--dry-run"]);
    expect(dry.code).toBe(2);
    expect(dry.stdout).toBe("'fh-trial' did not respond to health checks within 1s (last: HTTP 500)\n");
    expect(dry.stderr).toBe("hop3-health: dry run: probed here, and the verdict was not recorded (no deploy counted)\n");

    const post = (body: unknown): Promise<Response> => fetch(`${e.url}/api/v1/probes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const trial = await post({ app: "fh-trial", record: false });
    expect(trial.status).toBe(422);
    expect(await trial.json()).toMatchObject({ result: "failure", recorded: false });
    const unknown = await post({ app: "no-such-app", port: 1 });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^no app 'no-such-app' in /);

    const metrics = await (await fetch(`${e.url}/metrics`)).text();
    expect(metricValue(metrics, "hop3_deploy_probe_total", { app: "fh-trial", result: "failure" })).toBeUndefined();
    expect(metrics).not.toContain("no-such-app");
    // A real deploy probe still counts: the operator's, over the operator socket.
    expect((await e.operator("POST", "/api/v1/probes", { app: "fh-trial" })).status).toBe(422);
    expect(metricValue(await (await fetch(`${e.url}/metrics`)).text(), "hop3_deploy_probe_total", { app: "fh-trial", result: "failure" })).toBe(1);
  });
});

describe("plugins from a folder of their own", () => {
  it("declare their settings with hop3-health's zod, given to them, and get them validated", async () => {
    // Outside the project: nothing of hop3-health's node_modules can be imported from here.
    const dir = tempDir("hop3-plugin-outside-");
    await writeFile(
      path.join(dir, "queue.mjs"),
      `export default {
  name: "queue",
  settings: (z) => ({ queue: z.strictObject({ max_waiting: z.number().int().min(0).default(10) }) }),
  getHealthChecks: (ctx) => [{
    id: "queue", name: "Job queue", section: "Backing services", isConfigured: () => true,
    check: async () => {
      const { max_waiting } = ctx.configFor("queue");
      const waiting = 12;
      return { name: "Job queue", passed: waiting <= max_waiting, severity: waiting <= max_waiting ? "ok" : "warn", message: waiting + " jobs waiting (at most " + max_waiting + ")" };
    },
  }],
};
`,
    );
    const { configFile, writeConfig } = await makeHop3Root();
    await writeConfig(`plugins = ["${dir}"]\n`);
    const byDefault = itemsOf(JSON.parse((await runCli(["--config", configFile, "status", "--json"])).stdout) as JsonReport);
    expect(byDefault.queue).toMatchObject({ severity: "warn", detail: "12 jobs waiting (at most 10)" });
    await writeConfig(`plugins = ["${dir}"]\n[checks.queue]\nmax_waiting = 20\n`);
    expect(itemsOf(JSON.parse((await runCli(["--config", configFile, "status", "--json"])).stdout) as JsonReport).queue).toMatchObject({ severity: "ok" });
    await writeConfig(`plugins = ["${dir}"]\n[checks.queue]\nmax_waiting = "lots"\n`);
    const bad = await runCli(["--config", configFile, "status"]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain(`config file ${configFile}: checks.queue.max_waiting:`);
  });
});

describe("the npm package", () => {
  it("ships what the README points at, and not the benchmarks or the sources of generated files", async () => {
    const packed = await new Promise<string>((resolve, reject) =>
      execFile("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO, timeout: 60_000 }, (error, stdout) => (error ? reject(new Error(error.message)) : resolve(stdout))),
    );
    const files = (JSON.parse(packed) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    for (const wanted of ["LICENSE", "README.md", "dist/bin/hop3-health.cjs", "dist/vendor/zod.js", "docs/runbooks.md", "docs/README.md", "docs/configuration.md", "deploy/hop3-health.service", "alerts/hop3-health.rules.yml", "alerts/alertmanager.example.yml", "grafana/dashboards/hop3-health.json"]) {
      expect(files, wanted).toContain(wanted);
    }
    expect(files.filter((f) => f.startsWith("dist/bench/") || f.startsWith("dist/src/") || f.startsWith("dist/checks/") || f.startsWith("test/") || f === "grafana/dashboard.ts" || f.endsWith(".map"))).toEqual([]);
  });
});

describe("the systemd unit", () => {
  const unitFile = path.join(REPO, "deploy/hop3-health.service");

  it("passes systemd-analyze verify, where systemd is installed", async () => {
    const verify = (file: string): Promise<{ code: number; stderr: string }> =>
      new Promise((resolve) => execFile("systemd-analyze", ["verify", file], { timeout: 30_000 }, (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stderr })));
    const shipped = await verify(unitFile);
    if (shipped.code === -1 && process.env.CI !== "true") return;
    expect(shipped).toEqual({ code: 0, stderr: "" });
    // The verification can fail: a unit whose ExecStart is not an absolute path is refused.
    const broken = path.join(tempDir(), "hop3-health.service");
    await writeFile(broken, (await readFile(unitFile, "utf8")).replace("ExecStart=/usr/bin/env hop3-health serve", "ExecStart=no/such/path serve"));
    expect((await verify(broken)).code).not.toBe(0);
  });

  it("starts with its ExecStart and Environment on a server with no configuration file, and keeps its state in its StateDirectory", async () => {
    const unit = await readFile(unitFile, "utf8");
    const setting = (key: string): string[] => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]!.trim());
    // Environment=KEY=value or Environment="KEY=value with spaces".
    const environment = Object.fromEntries(setting("Environment").map((line) => line.replace(/^"(.*)"$/, "$1").split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(environment.HOP3_HEALTH_CONFIG).toBeUndefined();
    const [stateDirectory] = setting("StateDirectory");
    expect(stateDirectory).toBe("hop3-health");
    // /var/lib/<StateDirectory>, as systemd makes it, stands here in a temp folder; hop3-health is found on the PATH as npm -g puts it there.
    const stateDir = tempDir("hop3-state-");
    const bin = tempDir("hop3-bin-");
    await symlink(path.join(REPO, "dist/bin/hop3-health.cjs"), path.join(bin, "hop3-health"));
    // systemd says where it made the StateDirectory in $STATE_DIRECTORY.
    const env = { ...Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, v.replaceAll(`/var/lib/${stateDirectory}`, stateDir)])), STATE_DIRECTORY: stateDir };
    const layout = await makeHop3Layout([]);
    const port = await closedPort();
    const [execStart] = setting("ExecStart");
    const [command, ...args] = execStart!.split(/\s+/);
    expect(existsSync("/etc/hop3-health.toml")).toBe(false);
    const child = spawn(command!, args, {
      env: { ...env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: stateDir, HOP3_ROOT: layout.root, HOP3_HEALTH_LISTEN: `127.0.0.1:${port}`, TMPDIR: os.tmpdir() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    try {
      await eventually(async () => child.exitCode === null && (await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.status === 200, () => false)), 30_000, `the unit's command to be ready:\n${output}`);
      expect(existsSync(path.join(stateDir, "events.jsonl"))).toBe(true);
      // Its state is written where the unit says, nothing about the configuration is wrong (the checks' own findings aside).
      expect(output).not.toMatch(/cannot be written|configuration error|EACCES|not found/);
    } finally {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("close", resolve));
    }
    expect(child.exitCode).toBe(0);
  });
});
