// The local checks' thresholds and edge cases, through the built binary.

import { chmod, mkdir, readFile, rm, statfs, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderText, wantsColour } from "../src/report/text.js";
import { buildReport } from "../src/report/report.js";
import { itemsOf, makeHop3Root, runCli, type JsonReport, type ReportItem } from "./helpers/cli.js";

async function statusItems(configFile: string): Promise<{ code: number; items: Record<string, ReportItem> }> {
  const result = await runCli(["--config", configFile, "status", "--json"]);
  return { code: result.code, items: itemsOf(JSON.parse(result.stdout) as JsonReport) };
}

describe("disk-usage", () => {
  it("warns above warn_percent and fails above fail_percent, whatever this disk is at", async () => {
    const { configFile, root, writeConfig } = await makeHop3Root();
    const fs = await statfs(root);
    const usedPercent = ((fs.blocks - fs.bfree) / fs.blocks) * 100;
    // Thresholds placed around this disk's own usage, so the test holds on any machine.
    const below = Math.max(0, usedPercent - 0.5);

    await writeConfig(`[checks.disk-usage]\nwarn_percent = ${below}\nfail_percent = ${Math.min(100, usedPercent + 5)}\n`);
    const warn = await statusItems(configFile);
    expect(warn.code).toBe(1);
    expect(warn.items["disk-usage"]).toMatchObject({ severity: "warn", detail: expect.stringMatching(new RegExp(`^\\d+% used on ${root} \\(.+ free of .+\\)$`)) });

    await writeConfig(`[checks.disk-usage]\nwarn_percent = ${below / 2}\nfail_percent = ${below}\n`);
    const fail = await statusItems(configFile);
    expect(fail.code).toBe(2);
    expect(fail.items["disk-usage"]?.severity).toBe("fail");
    const paths = fail.items["disk-usage"]!.details.paths as Array<Record<string, number | string>>;
    expect(paths[0]).toMatchObject({ path: root, size_bytes: fs.blocks * fs.bsize, severity: "fail" });
  });

  it("watches every configured path, a missing one on the disk it would be on", async () => {
    const { configFile, root, writeConfig } = await makeHop3Root();
    const future = path.join(root, "not/yet/there");
    await writeConfig(`[checks.disk-usage]\npaths = ["${root}", "${future}"]\nwarn_percent = 99.98\nfail_percent = 99.99\n`);
    const { items } = await statusItems(configFile);
    const paths = items["disk-usage"]!.details.paths as Array<Record<string, unknown>>;
    expect(paths.map((p) => p.path)).toEqual([root, future]);
    expect(paths[1]).toMatchObject({ measured_at: root });
  });
});

describe("server-config", () => {
  it("finds the secret key where Hop3 keeps it, says where, and never shows it", async () => {
    const { configFile, root } = await makeHop3Root();
    const file = path.join(root, "hop3-server.toml");
    const keyFile = path.join(root, "etc-hop3", "secret-key");

    await writeFile(file, 'HOP3_LOG_LEVEL = "INFO"\nHOP3_SECRET_KEY = ""\n');
    expect((await statusItems(configFile)).items["server-config"]).toMatchObject({
      severity: "fail",
      detail: `HOP3_SECRET_KEY is not set (required for authentication): not in ${keyFile}, nor in ${file}`,
    });

    await writeFile(file, "HOP3_SECRET_KEY = \n");
    expect((await statusItems(configFile)).items["server-config"]).toMatchObject({ severity: "fail", detail: `not valid TOML at line 1, column 19 (${file})` });

    // Hop3 upper-cases its top-level keys.
    await writeFile(file, 'hop3_secret_key = "k-9f8e7d"\n');
    const ok = await runCli(["--config", configFile, "status", "--json"]);
    expect(ok.stdout).not.toContain("k-9f8e7d");
    expect(itemsOf(JSON.parse(ok.stdout) as JsonReport)["server-config"]).toMatchObject({ severity: "ok", details: { secret_key_from: `${file} HOP3_SECRET_KEY` } });

    // ADR 048: HOP3_ETC_DIR/secret-key first.
    await writeFile(file, 'ADMIN_DOMAIN = "hop3.example.com"\n');
    await mkdir(path.dirname(keyFile), { recursive: true });
    await writeFile(keyFile, "etc-secret-value-123\n", { mode: 0o640 });
    const fromEtc = await runCli(["--config", configFile, "status", "--json"]);
    expect(fromEtc.stdout).not.toContain("etc-secret-value-123");
    expect(itemsOf(JSON.parse(fromEtc.stdout) as JsonReport)["server-config"]).toMatchObject({ severity: "ok", detail: `present, secret key set in ${keyFile}` });

    // Files hop3-health may not read: said so, not taken for a missing key.
    await chmod(path.dirname(keyFile), 0o755);
    await chmod(keyFile, 0o640);
    await chmod(file, 0o600);
    await chmod(root, 0o755);
    await chmod(configFile, 0o644);
    const denied = await runCli(["--config", configFile, "status", "--json"], {}, { uid: 65534 });
    expect(itemsOf(JSON.parse(denied.stdout) as JsonReport)["server-config"]).toMatchObject({
      severity: "warn",
      detail: `cannot read ${file}: permission denied — run hop3-health as user hop3 or in group hop3`,
      details: { reason: "permission" },
    });
  });
});

describe("server-config on an older server (Hop3 0.4: settings in the environment, no hop3-server.toml)", () => {
  it("is not a failure for the file's absence alone, and says where the secret key is", async () => {
    const { configFile, root } = await makeHop3Root();
    await rm(path.join(root, "hop3-server.toml"));
    const bare = await runCli(["--config", configFile, "status", "--json"], { HOP3_SECRET_KEY: "" });
    expect(itemsOf(JSON.parse(bare.stdout) as JsonReport)["server-config"]).toMatchObject({
      severity: "ok",
      detail: "no hop3-server.toml: settings kept in the environment (as older Hop3 servers keep them)",
      details: { settings_from: "environment" },
    });
    // systemd's EnvironmentFile, beside HOP3_ETC_DIR (/etc/default/hop3 for /etc/hop3).
    const envFile = path.join(root, "default", "hop3");
    await mkdir(path.dirname(envFile), { recursive: true });
    await writeFile(envFile, "HOP3_SECRET_KEY=env-file-secret-77\nACME_ENGINE=self-signed\n", { mode: 0o600 });
    const fromEnvFile = await runCli(["--config", configFile, "status", "--json"], { HOP3_SECRET_KEY: "" });
    expect(fromEnvFile.stdout).not.toContain("env-file-secret-77");
    expect(itemsOf(JSON.parse(fromEnvFile.stdout) as JsonReport)["server-config"]).toMatchObject({ severity: "ok", details: { secret_key_from: envFile } });
    // A file named in the config is another matter: missing, it fails.
    await writeFile(configFile, `${await readFile(configFile, "utf8")}\n[checks.server-config]\npath = ${JSON.stringify(path.join(root, "nope.toml"))}\n`);
    const missing = await runCli(["--config", configFile, "status", "--json"]);
    expect(itemsOf(JSON.parse(missing.stdout) as JsonReport)["server-config"]).toMatchObject({ severity: "fail", details: { reason: "config" } });
  });
});

describe("colours", () => {
  const report = buildReport(
    { hostname: "h", ip: "192.0.2.1", version: "1", uptime: "1h 0m", uptime_seconds: 3600 },
    {
      startedAt: new Date(),
      finishedAt: new Date(),
      skipped: [],
      outcomes: [
        { check: "a", name: "A", section: "Services", severity: "fail", passed: false, detail: "down", details: {}, measurements: [], durationSeconds: 0, finishedAt: new Date() },
      ],
    },
  );

  it("colours only on a terminal, and never with NO_COLOR or --no-color", () => {
    expect(wantsColour({ isTTY: true }, {}, false)).toBe(true);
    expect(wantsColour({ isTTY: false }, {}, false)).toBe(false);
    expect(wantsColour({ isTTY: true }, { NO_COLOR: "1" }, false)).toBe(false);
    expect(wantsColour({ isTTY: true }, { NO_COLOR: "" }, false)).toBe(true);
    expect(wantsColour({ isTTY: true }, {}, true)).toBe(false);
    expect(renderText(report, { colour: true })).toContain("\x1b[31m✗ down\x1b[0m");
    expect(renderText(report, { colour: false })).toContain("  A               ✗ down\n");
  });
});
