// Credentials never reach what hop3-health prints, serves or logs.

import { PassThrough } from "node:stream";
import { beforeAll, describe, expect, it } from "vitest";
import { createEngine } from "../src/engine/engine.js";
import { verifyBackingServices } from "../src/engine/verify.js";
import { makeHop3Root, runCli } from "./helpers/cli.js";
import { closedPort, requireSharedServers } from "./helpers/servers.js";

const SECRETS = ["pg-Secr3t-pass", "my-Secr3t-pass", "rd-Secr3t-pass", "s3-Secr3t-key", "env-Secr3t-key"];

let refused: number;
beforeAll(async () => {
  await requireSharedServers();
  refused = await closedPort();
});

function config(): string {
  return `[checks.postgresql]
url = "postgresql://postgres:pg-Secr3t-pass@127.0.0.1:${refused}/test"
[checks.mysql]
url = "mysql://root:my-Secr3t-pass@127.0.0.1:3306/test"
[checks.redis]
url = "redis://:rd-Secr3t-pass@127.0.0.1:${refused}/0"
[checks.s3]
endpoint = "http://127.0.0.1:${refused}"
bucket = "hop3"
access_key = "hop3-access"
secret_key = "s3-Secr3t-key"
`;
}

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
  // Nor a URL that still carries a password.
  expect(text).not.toMatch(/:\/\/[^/\s:@]*:(?!\*\*\*@)[^@\s/]+@/);
}

describe("secrets", () => {
  it("stay out of status, status --json and status --quiet", async () => {
    const { configFile } = await makeHop3Root(config());
    const env = { HOP3_S3_SECRET_KEY: "env-Secr3t-key" };
    const text = await runCli(["--config", configFile, "status"], env);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("MySQL           ✗ authentication failed for user root (127.0.0.1:3306)");
    const json = await runCli(["--config", configFile, "status", "--json"], env);
    const quiet = await runCli(["--config", configFile, "status", "--quiet"], env);
    for (const output of [text, json, quiet]) {
      expectNoSecret(output.stdout);
      expectNoSecret(output.stderr);
    }
    // The URLs in details keep their user, with the password masked.
    expect(json.stdout).toContain(`postgresql://postgres:***@127.0.0.1:${refused}/test`);
  });

  it("stay out of the logs, where startup verification says what failed and at which level", async () => {
    const { configFile } = await makeHop3Root(config());
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
    const engine = await createEngine({ file: configFile, env: {}, logLevel: "trace", logStream: stream });
    // A plugin that logs carelessly is masked too.
    engine.logger.info(`connecting to postgresql://postgres:pg-Secr3t-pass@db/x with key s3-Secr3t-key`);
    await verifyBackingServices(engine);
    const log = chunks.join("");
    expectNoSecret(log);
    const lines = log
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { level: string; msg: string; check?: string });
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: "error",
        check: "mysql",
        msg: "MySQL health check failed: authentication failed for user root (127.0.0.1:3306). Apps using this service will fail to deploy.",
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ level: "error", check: "postgresql", msg: `PostgreSQL health check failed: connection refused (127.0.0.1:${refused}). Apps using this service will fail to deploy.` }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ level: "warn", check: "redis", msg: expect.stringMatching(/^Redis health check warning: unreachable — connection refused/) }),
    );
    expect(lines.at(-1)).toMatchObject({ level: "error", msg: "startup verification: 4 backing services checked: 0 ok, 1 warning, 3 failures" });
  });

  it("a config error does not show a secret either", async () => {
    const { configFile } = await makeHop3Root('[checks.postgresql]\nurl = "postgresql://u:pg-Secr3t-pass@db:notaport/x"\n');
    const result = await runCli(["--config", configFile, "status"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("checks.postgresql.url");
    expectNoSecret(result.stderr);
  });
});
