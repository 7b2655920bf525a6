// The backing-service checks against real servers, and against every way a server can be broken.

import { readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../src/engine/engine.js";
import type { CheckOutcome } from "../src/health/outcome.js";
import { tempDir } from "./helpers/cli.js";
import { closedPort, garbageListener, requireSharedServers, SHARED, silentListener, startRedis, startS3, type Listener, type S3Server } from "./helpers/servers.js";

async function engineFor(toml: string): Promise<Engine> {
  const root = tempDir();
  const file = path.join(root, "hop3-health.toml");
  await writeFile(file, `hop3_root = "${root}"\nlog_level = "silent"\n${toml}\n`);
  return createEngine({ file, env: {}, logLevel: "silent" });
}

/** One cycle of the backing-service checks of a config; outcomes by check id. */
async function backing(toml: string): Promise<Record<string, CheckOutcome>> {
  const engine = await engineFor(toml);
  const checks = (await engine.discover()).filter((c) => c.section === "Backing services");
  const cycle = await engine.run(checks);
  return Object.fromEntries(cycle.outcomes.map((o) => [o.check, o]));
}

const TIMEOUT = 1;
/** A fault settles within its timeout plus this. */
const MARGIN = 0.5;

let s3: S3Server;
let silent: Listener;
let garbage: Listener;
let refused: number;

beforeAll(async () => {
  await requireSharedServers();
  s3 = await startS3(["hop3-backups"]);
  silent = await silentListener();
  garbage = await garbageListener();
  refused = await closedPort();
});
afterAll(async () => {
  await Promise.all([s3.close(), silent.close(), garbage.close()]);
});

/** The four checks pointed at one host:port. */
function allAt(port: number, timeout = TIMEOUT): string {
  return `timeout = ${timeout}
[checks.postgresql]
url = "postgresql://postgres@127.0.0.1:${port}/test"
[checks.mysql]
url = "mysql://root@127.0.0.1:${port}/test"
[checks.redis]
url = "redis://127.0.0.1:${port}"
[checks.s3]
endpoint = "http://127.0.0.1:${port}"
bucket = "hop3-backups"
`;
}

describe("backing services, healthy", () => {
  it("PostgreSQL, MariaDB, Redis and S3 all ok, with versions in details", async () => {
    const results = await backing(`[checks.postgresql]
url = "${SHARED.postgresql.url}"
[checks.mysql]
url = "${SHARED.mysql.url}"
[checks.redis]
url = "${SHARED.redis.url}"
[checks.s3]
endpoint = "${s3.endpoint}"
bucket = "hop3-backups"
access_key = "S3RVER"
secret_key = "S3RVER"
`);
    expect(Object.keys(results).sort()).toEqual(["mysql", "postgresql", "redis", "s3"]);
    expect(results.postgresql).toMatchObject({ severity: "ok", section: "Backing services", name: "PostgreSQL" });
    expect(results.postgresql!.detail).toMatch(/^PostgreSQL \d+\.\d+.* at 127\.0\.0\.1:5432 \(\d+ of \d+ connections in use\)$/);
    expect(results.postgresql!.details.version).toMatch(/^\d+\.\d+/);
    expect(results.mysql).toMatchObject({ severity: "ok", name: "MySQL" });
    expect(results.mysql!.detail).toMatch(/^(MariaDB|MySQL) \d+\.\d+\.\d+ at 127\.0\.0\.1:3306 \(\d+ of \d+ connections in use\)$/);
    expect(results.mysql!.details.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(results.redis).toMatchObject({ severity: "ok", name: "Redis" });
    expect(results.redis!.details).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/), connected_clients: expect.any(Number) });
    expect(results.s3).toMatchObject({ severity: "ok", name: "S3", detail: `bucket hop3-backups reachable at 127.0.0.1:${s3.port}` });
  });

  it("S3 without a bucket lists the buckets", async () => {
    const results = await backing(`[checks.s3]\nendpoint = "${s3.endpoint}"\n`);
    expect(results.s3).toMatchObject({ severity: "ok", detail: `1 bucket reachable at 127.0.0.1:${s3.port}` });
  });

  it("skips what is not configured", async () => {
    expect(await backing("")).toEqual({});
  });
});

describe("backing services, broken", () => {
  it("a closed port: connection refused, Redis only a warning", async () => {
    const results = await backing(allAt(refused));
    const where = `127.0.0.1:${refused}`;
    expect(results.postgresql).toMatchObject({ severity: "fail", detail: `connection refused (${where})` });
    expect(results.mysql).toMatchObject({ severity: "fail", detail: `connection refused (${where})` });
    expect(results.redis).toMatchObject({ severity: "warn", detail: `unreachable — connection refused (${where})` });
    expect(results.s3).toMatchObject({ severity: "fail", detail: `connection refused (${where})` });
    for (const outcome of Object.values(results)) expect(outcome.durationSeconds).toBeLessThan(TIMEOUT + MARGIN);
  });

  it("a listener that accepts and never answers: timed out, within the timeout", async () => {
    const results = await backing(allAt(silent.port));
    const where = `127.0.0.1:${silent.port}`;
    expect(results.postgresql).toMatchObject({ severity: "fail", detail: `timed out after ${TIMEOUT}s connecting to ${where}` });
    expect(results.mysql).toMatchObject({ severity: "fail", detail: `timed out after ${TIMEOUT}s connecting to ${where}` });
    expect(results.redis).toMatchObject({ severity: "warn", detail: `unreachable — timed out after ${TIMEOUT}s connecting to ${where}` });
    expect(results.s3).toMatchObject({ severity: "fail", detail: `timed out after ${TIMEOUT}s connecting to ${where}` });
    for (const outcome of Object.values(results)) {
      expect(outcome.durationSeconds).toBeGreaterThan(TIMEOUT * 0.8);
      expect(outcome.durationSeconds).toBeLessThan(TIMEOUT + MARGIN);
    }
  });

  it("a listener that answers garbage: a failure that says so", async () => {
    const results = await backing(allAt(garbage.port));
    const where = `127.0.0.1:${garbage.port}`;
    for (const id of ["postgresql", "mysql", "redis", "s3"]) {
      expect(results[id]?.severity, id).toBe("fail");
      expect(results[id]?.detail, id).toMatch(new RegExp(`^(unexpected answer from ${where}|connection (closed|reset) by ${where} without a valid answer) \\(is it (PostgreSQL|MySQL|Redis|S3)\\?\\)`));
      expect(results[id]!.durationSeconds).toBeLessThan(TIMEOUT + MARGIN);
    }
  });

  it("an unresolvable host: host not found", async () => {
    const results = await backing(allAt(5432).replaceAll("127.0.0.1", "hop3-health-test.invalid"));
    expect(results.postgresql?.detail).toBe("host not found (hop3-health-test.invalid)");
    expect(results.mysql?.detail).toBe("host not found (hop3-health-test.invalid)");
    expect(results.redis).toMatchObject({ severity: "warn", detail: "unreachable — host not found (hop3-health-test.invalid)" });
    expect(results.s3?.detail).toBe("host not found (hop3-health-test.invalid)");
  });

  it("wrong credentials and missing things, each named", async () => {
    const results = await backing(`[checks.postgresql]
url = "postgresql://nosuchrole@127.0.0.1:5432/test"
[checks.mysql]
url = "mysql://root:wrong-password@127.0.0.1:3306/test"
[checks.s3]
endpoint = "${s3.endpoint}"
bucket = "no-such-bucket"
`);
    expect(results.postgresql).toMatchObject({ severity: "fail", detail: "authentication failed for user nosuchrole: role does not exist (127.0.0.1:5432)" });
    expect(results.mysql).toMatchObject({ severity: "fail", detail: "authentication failed for user root (127.0.0.1:3306)" });
    expect(results.s3).toMatchObject({ severity: "fail", detail: `bucket no-such-bucket not found (127.0.0.1:${s3.port})` });

    const missingDb = await backing(`[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:5432/no_such_db"\n[checks.mysql]\nurl = "mysql://root@127.0.0.1:3306/no_such_db"\n`);
    expect(missingDb.postgresql?.detail).toBe("database no_such_db does not exist (127.0.0.1:5432)");
    expect(missingDb.mysql?.detail).toBe("database no_such_db does not exist (127.0.0.1:3306)");
  });

  it("a Redis that goes away: ok, then a warning once it is killed", async () => {
    const redis = await startRedis();
    const toml = `timeout = ${TIMEOUT}\n[checks.redis]\nurl = "redis://127.0.0.1:${redis.port}/0"\n`;
    expect((await backing(toml)).redis?.severity).toBe("ok");
    await redis.close();
    expect((await backing(toml)).redis).toMatchObject({ severity: "warn", detail: `unreachable — connection refused (127.0.0.1:${redis.port})` });
  });

  it("severity_on_failure overrides either way", async () => {
    const results = await backing(
      `[checks.redis]\nurl = "redis://127.0.0.1:${refused}"\nseverity_on_failure = "fail"\n[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:${refused}/test"\nseverity_on_failure = "warn"\n`,
    );
    expect(results.redis?.severity).toBe("fail");
    expect(results.postgresql?.severity).toBe("warn");
  });

  it("refuses a malformed URL at start, naming the key", async () => {
    await expect(engineFor('[checks.postgresql]\nurl = "localhost:5432"\n')).rejects.toThrow(/checks\.postgresql\.url: expected a URL such as/);
    await expect(engineFor('[checks.s3]\nendpoint = "minio:9000"\n')).rejects.toThrow(/checks\.s3\.endpoint: expected a URL/);
  });
});

describe("resources", () => {
  const openFileDescriptors = (): number => readdirSync("/proc/self/fd").length;

  it("hundreds of cycles against refusing and silent endpoints leave handles and descriptors where they began", async () => {
    const refusing = await engineFor(allAt(refused, 0.1));
    const hanging = await engineFor(allAt(silent.port, 0.1));
    const [refusingChecks, hangingChecks] = await Promise.all([refusing.discover(), hanging.discover()]);
    const cycle = async (): Promise<void> => {
      await Promise.all([refusing.run(refusingChecks), hanging.run(hangingChecks)]);
    };
    // Warm up: modules, DNS and the like load once.
    for (let i = 0; i < 5; i++) await cycle();
    await settle();
    const handlesBefore = process.getActiveResourcesInfo().length;
    const fdsBefore = openFileDescriptors();

    for (let i = 0; i < 200; i++) await cycle();
    await settle();

    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(handlesBefore);
    expect(openFileDescriptors()).toBeLessThanOrEqual(fdsBefore);
  }, 120_000);
});

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
}
