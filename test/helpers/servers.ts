// Servers for fault tests: our own throwaway listeners and instances, never the machine's
// shared PostgreSQL, MariaDB or Redis.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { tempDir } from "./cli.js";
import { stopChild } from "./processes.js";

export interface Listener {
  port: number;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

/**
 * A port nothing listens on: connecting to it is refused, and a test may listen on it later.
 * Taken below the kernel's ephemeral range (32768–60999 here), where the source ports of the
 * tests' own outgoing connections never land, so that nothing takes it in between.
 */
export async function closedPort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(candidate, "127.0.0.1", () => resolve(true));
    });
    if (!free) continue;
    await new Promise((resolve) => server.close(resolve));
    return candidate;
  }
}

function serve(onConnection: (socket: net.Socket) => void): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    onConnection(socket);
  });
  return listen(server).then((port) => ({
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  }));
}

/** Accepts connections, reads what it is sent, and never says a word. */
export function silentListener(): Promise<Listener> {
  // Reading keeps our side in step: when a client hangs up, this end closes too.
  return serve((socket) => socket.resume());
}

/** Answers every connection and every request with bytes no protocol expects, then hangs up. */
export function garbageListener(): Promise<Listener> {
  return serve((socket) => {
    socket.end(Buffer.from("\x00\xffGARBAGE 1234 garbage\r\n\r\n\x7f\x01not a protocol\n", "binary"));
  });
}

export interface RedisInstance extends Listener {
  process: ChildProcess;
}

/** A private redis-server on a free port, for tests that stop it. */
export async function startRedis(): Promise<RedisInstance> {
  const port = await closedPort();
  const dir = tempDir("hop3-health-redis-");
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", path.join(dir, "redis.log")], {
    stdio: "ignore",
  });
  await waitForPort(port, 10_000);
  return { port, process: child, close: () => stopChild(child) };
}

export async function waitForPort(port: number, timeoutMs: number, host = "127.0.0.1"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await canConnect(host, port)) return;
    if (Date.now() > deadline) throw new Error(`nothing answered on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** The machine's shared servers, which the backing-service tests need. A missing one fails the test. */
export const SHARED = {
  postgresql: { host: "127.0.0.1", port: 5432, url: "postgresql://postgres@127.0.0.1:5432/test", start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" },
  mysql: { host: "127.0.0.1", port: 3306, url: "mysql://root@127.0.0.1:3306/test", start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd" },
  redis: { host: "127.0.0.1", port: 6379, url: "redis://127.0.0.1:6379", start: "redis-server --daemonize yes ..." },
} as const;

export async function requireSharedServers(): Promise<void> {
  const missing: string[] = [];
  for (const [name, server] of Object.entries(SHARED)) {
    if (!(await canConnect(server.host, server.port))) missing.push(`${name} is not answering on ${server.host}:${server.port} (start it: ${server.start})`);
  }
  if (missing.length > 0) throw new Error(`the backing-service tests need the machine's servers:\n${missing.join("\n")}`);
}

export interface S3Server extends Listener {
  endpoint: string;
}

/** A real S3 protocol server (s3rver) on a free port, with the given buckets. */
export async function startS3(buckets: string[]): Promise<S3Server> {
  const { default: S3rver } = await import("s3rver");
  const port = await closedPort();
  const server = new S3rver({
    address: "127.0.0.1",
    port,
    silent: true,
    directory: tempDir("hop3-health-s3-"),
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  await server.run();
  return { port, endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}

export interface PostgresInstance extends Listener {
  process: ChildProcess;
}

/**
 * A private PostgreSQL with password authentication (the machine's shared one trusts every
 * local connection, so a wrong password would pass there): initdb into a temporary folder and
 * started on a free port, as the postgres user (PostgreSQL will not run as root).
 */
export async function startPostgres(password: string): Promise<PostgresInstance> {
  const versions = readdirSync("/usr/lib/postgresql").sort();
  const bin = path.join("/usr/lib/postgresql", versions.at(-1) ?? "15", "bin");
  const dir = tempDir("hop3-health-pg-");
  const data = path.join(dir, "data");
  const pwfile = path.join(dir, "pw");
  writeFileSync(pwfile, `${password}\n`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync("chown", ["-R", "postgres", dir]);
  const run = (command: string, args: string[]): ChildProcess =>
    asRoot ? spawn("runuser", ["-u", "postgres", "--", command, ...args], { stdio: "ignore" }) : spawn(command, args, { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    run(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=scram-sha-256", `--pwfile=${pwfile}`, "-E", "UTF8"]).once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`initdb exited with ${code}`)),
    );
  });
  const port = await closedPort();
  const child = run(path.join(bin, "postgres"), ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
  await waitForPort(port, 30_000);
  // runuser does not pass signals on: the postmaster itself is told to stop (SIGINT: fast shutdown).
  const close = async (): Promise<void> => {
    const pid = Number(readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n", 1)[0]);
    const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())));
    process.kill(pid, "SIGINT");
    await exited;
  };
  return { port, process: child, close };
}
