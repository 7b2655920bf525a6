import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/load.js";
import { ConfigError } from "../src/lib/errors.js";
import { createEngine } from "../src/engine/engine.js";
import { tempDir } from "./helpers/cli.js";

async function configFile(toml: string): Promise<string> {
  const file = path.join(tempDir(), "hop3-health.toml");
  await writeFile(file, toml);
  return file;
}

async function configError(toml: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const file = await configFile(toml);
  const error = await createEngine({ file, env, logLevel: "silent" }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).message.replaceAll(file, "FILE");
}

describe("configuration", () => {
  it("has built-in defaults, so no file is needed", async () => {
    const { config, file } = await loadConfig({ file: undefined, env: { HOP3_HEALTH_CONFIG: "" } });
    expect(file === null || file === "/etc/hop3-health.toml").toBe(true);
    if (file === null) {
      expect(config).toMatchObject({ hop3_root: "/home/hop3", listen: "0.0.0.0:9483", interval: 30, timeout: 5 });
    }
  });

  it("lays the contract's environment variables over the file", async () => {
    const file = await configFile('hop3_root = "/srv/a"\ninterval = 10\n[checks.redis]\nurl = "redis://file:6379"\n');
    const { config } = await loadConfig({
      file,
      env: {
        HOP3_ROOT: "/srv/b",
        HOP3_HEALTH_INTERVAL: "15",
        HOP3_HEALTH_TIMEOUT: "2.5",
        HOP3_HEALTH_LISTEN: "127.0.0.1:9999",
        HOP3_REDIS_URL: "redis://env:6379",
        HOP3_S3_BUCKET: "123",
        HOP3_HEALTH_EVENTS: "/var/log/ev.jsonl",
      },
    });
    expect(config.hop3_root).toBe("/srv/b");
    expect(config.interval).toBe(15);
    expect(config.timeout).toBe(2.5);
    expect(config.listen).toBe("127.0.0.1:9999");
    expect(config.events).toBe("/var/log/ev.jsonl");
    expect(config.checks.redis).toEqual({ url: "redis://env:6379" });
    expect(config.checks.s3).toEqual({ bucket: "123" });
  });

  it("takes any other key from HOP3_HEALTH__<PATH>", async () => {
    const file = await configFile("");
    const { config } = await loadConfig({
      file,
      env: { HOP3_HEALTH__CHECKS__DISK_USAGE__WARN_PERCENT: "70", HOP3_HEALTH__CHECKS__SSL__PATHS: '["/a/*.crt"]', HOP3_HEALTH__CONCURRENCY: "4" },
    });
    expect(config.checks["disk-usage"]).toEqual({ warn_percent: 70 });
    expect(config.checks.ssl).toEqual({ paths: ["/a/*.crt"] });
    expect(config.concurrency).toBe(4);
  });

  it("refuses a value of the wrong type, naming file, key and reason", async () => {
    expect(await configError('interval = "soon"\n')).toBe('config file FILE: interval: expected a number of seconds, got "soon"');
  });

  it("names the environment variable a bad value came from", async () => {
    expect(await configError("", { HOP3_HEALTH_INTERVAL: "-3" })).toBe("environment variable HOP3_HEALTH_INTERVAL: interval: must be at least 1 second, got -3");
    expect(await configError("", { HOP3_HEALTH_LISTEN: "nowhere" })).toMatch(/^environment variable HOP3_HEALTH_LISTEN: listen: expected "host:port"/);
  });

  it("refuses unknown keys, at the top and in a check's table", async () => {
    expect(await configError("intervall = 5\n")).toBe("config file FILE: unknown key intervall — did you mean interval?");
    expect(await configError("frobnicate = 5\n")).toBe("config file FILE: unknown key frobnicate");
    expect(await configError("[checks.disk-usage]\nwarn_precent = 70\n")).toBe("config file FILE: unknown key checks.disk-usage.warn_precent — did you mean warn_percent?");
    expect(await configError("[checks.no-such-check]\nurl = 5\n")).toBe("config file FILE: unknown key checks.no-such-check.url");
  });

  it("validates each check's own keys and the common ones", async () => {
    expect(await configError("[checks.disk-usage]\nwarn_percent = 95\nfail_percent = 90\n")).toMatch(
      /checks\.disk-usage\.warn_percent: warn_percent must be below fail_percent/,
    );
    expect(await configError('[checks.nginx]\nseverity_on_failure = "critical"\n')).toBe(
      'config file FILE: checks.nginx.severity_on_failure: expected "warn" or "fail", got "critical"',
    );
    expect(await configError("[checks.ssl]\nendpoints = [\"example.com\"]\n")).toMatch(/checks\.ssl\.endpoints\.0: expected "host:port"/);
  });

  it("says where TOML is broken", async () => {
    expect(await configError("interval = \n")).toMatch(/^config file FILE:1:\d+: not valid TOML/);
  });

  it("names a config file that is not there", async () => {
    const error = await loadConfig({ file: "/nonexistent/hop3-health.toml", env: {} }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("config file /nonexistent/hop3-health.toml (from --config): not found");
  });

  it("never shows a secret's value in an error", async () => {
    const message = await configError('[checks.s3]\nsecret_key = 12345\n');
    expect(message).toMatch(/checks\.s3\.secret_key/);
    expect(message).not.toContain("12345");
  });
});
