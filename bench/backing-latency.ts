// Per-check latency of the four backing-service checks against this machine's PostgreSQL,
// MariaDB and Redis and an s3rver started here: median and p99 over a few hundred runs, beside
// the same round trip done with the bare driver (the floor), the two called in turns, and beside Debian's
// prometheus-blackbox-exporter probing the same Redis with a PING/PONG tcp module.
//
//   npm run build && node dist/bench/backing-latency.js        (RUNS=300 by default)

import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import { HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import S3rver from "s3rver";
import { createEngine } from "../src/engine/engine.js";
import { freePort } from "./lib/net.js";
import { ms, summarise, timeInTurns, timeRuns, type Summary } from "./lib/stats.js";

const RUNS = Number(process.env.RUNS ?? 300);
const PG_URL = "postgresql://postgres@127.0.0.1:5432/test";
const MYSQL = { host: "127.0.0.1", port: 3306, user: "root", database: "test" };
const REDIS_URL = "redis://127.0.0.1:6379";


const dir = mkdtempSync(path.join(os.tmpdir(), "hop3-health-bench-"));
const s3Port = await freePort();
const s3 = new S3rver({ address: "127.0.0.1", port: s3Port, silent: true, directory: dir, configureBuckets: [{ name: "bench", configs: [] }] });
await s3.run();
const s3Endpoint = `http://127.0.0.1:${s3Port}`;

const configFile = path.join(dir, "hop3-health.toml");
writeFileSync(
  configFile,
  `hop3_root = "${dir}"
[checks.postgresql]
url = "${PG_URL}"
[checks.mysql]
url = "mysql://root@127.0.0.1:3306/test"
[checks.redis]
url = "${REDIS_URL}"
[checks.s3]
endpoint = "${s3Endpoint}"
bucket = "bench"
access_key = "S3RVER"
secret_key = "S3RVER"
`,
);
const engine = await createEngine({ file: configFile, env: {}, logLevel: "silent" });
const checks = (await engine.discover()).filter((c) => c.section === "Backing services");

/** The same round trip as each check, with nothing but the driver: connect, ask, close. */
const floors: Record<string, () => Promise<unknown>> = {
  postgresql: async () => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(
      "SELECT current_setting('server_version') AS version, (SELECT count(*)::int FROM pg_stat_activity) AS connections, current_setting('max_connections')::int AS max_connections",
    );
    await client.end();
  },
  mysql: async () => {
    const connection = await mysql.createConnection(MYSQL);
    await connection.query(
      "SELECT VERSION() AS version, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED') AS connections, @@max_connections AS max_connections",
    );
    connection.destroy();
  },
  redis: async () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
    await client.connect();
    await client.ping();
    await client.info();
    client.disconnect();
  },
  s3: async () => {
    const agent = new http.Agent({ keepAlive: false });
    const client = new S3Client({
      endpoint: s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestHandler: { httpAgent: agent },
    });
    await client.send(new HeadBucketCommand({ Bucket: "bench" }));
    client.destroy();
    agent.destroy();
  },
};

interface Row {
  what: string;
  ours: Summary;
  reference: Summary;
  referenceName: string;
}
const rows: Row[] = [];
for (const check of checks) {
  const floor = floors[check.id];
  if (!floor) continue;
  const [ours, reference] = await timeInTurns(
    RUNS,
    async () => {
      const cycle = await engine.run([check]);
      if (cycle.outcomes[0]?.severity !== "ok") throw new Error(`${check.id}: ${cycle.outcomes[0]?.detail ?? "skipped"}`);
    },
    floor,
  );
  rows.push({ what: check.id, ours, reference, referenceName: "bare driver" });
}

// Debian's blackbox exporter, probing the same Redis with PING / +PONG over TCP.
const blackboxPort = await freePort();
const blackboxConfig = path.join(dir, "blackbox.yml");
writeFileSync(
  blackboxConfig,
  `modules:
  redis_ping:
    prober: tcp
    timeout: 5s
    tcp:
      query_response:
        - send: "PING"
        - expect: "^\\\\+PONG"
`,
);
const blackbox = spawn("prometheus-blackbox-exporter", [`--config.file=${blackboxConfig}`, `--web.listen-address=127.0.0.1:${blackboxPort}`], { stdio: "ignore" });
// Not installed: said, rather than waited for.
blackbox.once("error", (error) => {
  console.error(`prometheus-blackbox-exporter: ${error.message} (apt-get install prometheus-blackbox-exporter)`);
  process.exit(1);
});
try {
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${blackboxPort}/-/healthy`).then((r) => r.ok, () => false);
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const probeUrl = `http://127.0.0.1:${blackboxPort}/probe?module=redis_ping&target=127.0.0.1:6379`;
  const probeDurations: number[] = [];
  const blackboxSummary = await timeRuns(RUNS, async () => {
    const body = await (await fetch(probeUrl)).text();
    if (!/^probe_success 1$/m.test(body)) throw new Error(`blackbox probe failed:\n${body}`);
    const duration = /^probe_duration_seconds ([\d.e+-]+)$/m.exec(body)?.[1];
    if (duration) probeDurations.push(Number(duration) * 1000);
  });
  const redisRow = rows.find((r) => r.what === "redis");
  if (redisRow) {
    rows.push({ what: "redis", ours: redisRow.ours, reference: blackboxSummary, referenceName: "blackbox /probe (HTTP round trip)" });
    rows.push({ what: "redis", ours: redisRow.ours, reference: summarise(probeDurations), referenceName: "blackbox probe_duration_seconds" });
  }
} finally {
  blackbox.kill();
}

console.log(`node ${process.version}; ${RUNS} runs each; latency of one check, connect to close`);
console.log(`${"check".padEnd(11)} ${"hop3-health median / p99".padEnd(26)} ${"reference".padEnd(34)} ${"median / p99".padEnd(22)} ratio (median)`);
for (const row of rows) {
  console.log(
    `${row.what.padEnd(11)} ${`${ms(row.ours.median)} / ${ms(row.ours.p99)}`.padEnd(26)} ${row.referenceName.padEnd(34)} ${`${ms(row.reference.median)} / ${ms(row.reference.p99)}`.padEnd(22)} ${(row.ours.median / row.reference.median).toFixed(2)}`,
  );
}
await s3.close();
process.exit(0);
