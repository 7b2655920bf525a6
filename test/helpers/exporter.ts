// Runs `hop3-health serve` as a real process on a free port, and talks to it.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { requestOverSocket } from "../../src/commands/operator-client.js";
import os from "node:os";
import path from "node:path";
import { CLI, makeHop3Folders, tempDir, testServerToml } from "./cli.js";
import { closedPort } from "./servers.js";

export interface RunningExporter {
  port: number;
  url: string;
  root: string;
  configFile: string;
  /** Its state directory (event log, heartbeats, maintenance, tokens, operator socket). */
  stateDir: string;
  process: ChildProcess;
  /** A request over the operator socket, as the hop3-health commands make it: the operator's authority. */
  operator(method: "GET" | "POST", path: string, body?: unknown, rawType?: string): Promise<{ status: number; body: unknown }>;
  /** A job's ping URL (its token from the state directory). */
  pingUrl(id: string): Promise<string>;
  /** Every log line so far. */
  logs(): string[];
  /** Sends SIGTERM; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ExporterOptions {
  /** Extra TOML after hop3_root, listen, interval and identity. */
  config?: string;
  root?: string;
  interval?: number;
  env?: Record<string, string>;
  /** Wait for /-/healthy before returning (default true). */
  waitHealthy?: boolean;
  scheme?: "http" | "https";
  /** Arguments after `serve`. */
  args?: string[];
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export async function startExporter(options: ExporterOptions = {}): Promise<RunningExporter> {
  const root = options.root ?? tempDir();
  // A healthy HOP3_ROOT unless the test brings its own.
  await makeHop3Folders(root);
  if (!existsSync(path.join(root, "hop3-server.toml"))) await writeFile(path.join(root, "hop3-server.toml"), testServerToml('HOP3_SECRET_KEY = "test"'));
  const port = await closedPort();
  const configFile = path.join(root, `hop3-health-${port}.toml`);
  // Its own state directory beside the root, unless the test names one.
  const stateDir = /^state_dir = "([^"]*)"/m.exec(options.config ?? "")?.[1] ?? options.env?.HOP3_HEALTH_STATE_DIR ?? `${root}.state`;
  await writeFile(
    configFile,
    `${options.config?.includes("state_dir =") || options.env?.HOP3_HEALTH_STATE_DIR ? "" : `state_dir = "${stateDir}"\n`}hop3_root = "${root}"\nhop3_etc_dir = "${path.join(root, "etc-hop3")}"\nlisten = "127.0.0.1:${port}"\ninterval = ${options.interval ?? 1}\nlog_level = "debug"\n${options.config ?? ""}\n` +
      (options.config?.includes("[identity]") ? "" : '[identity]\nhostname = "exporter-test"\nip = "203.0.113.9"\nversion = "0.5.0"\n') +
      (options.config?.includes("[checks.disk-usage]") ? "" : "[checks.disk-usage]\nwarn_percent = 99.98\nfail_percent = 99.99\n"),
  );
  const child = spawn(process.execPath, [CLI, "--config", configFile, "serve", ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TMPDIR: os.tmpdir(), ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const lines: string[] = [];
  let buffered = "";
  const take = (chunk: Buffer): void => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    lines.push(...parts);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  // "close", not "exit": by then everything it wrote has been read.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  void exited.then(() => running.delete(child));
  const url = `${options.scheme ?? "http"}://127.0.0.1:${port}`;
  const exporter: RunningExporter = {
    port,
    url,
    root,
    configFile,
    stateDir,
    process: child,
    operator: (method, requestPath, body, rawType) => operatorRequest(path.join(stateDir, "operator.sock"), method, requestPath, body, rawType),
    pingUrl: async (id) => {
      const tokens = JSON.parse(await readFile(path.join(stateDir, "heartbeat-tokens.json"), "utf8")) as Record<string, string>;
      return `${url}/api/v1/heartbeats/${id}/${tokens[id]}`;
    },
    logs: () => [...lines, ...(buffered ? [buffered] : [])],
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (options.waitHealthy !== false) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the exporter exited with ${child.exitCode}:\n${exporter.logs().join("\n")}`);
      const ok = await fetch(`${url}/-/healthy`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`the exporter did not answer on ${url}:\n${exporter.logs().join("\n")}`);
      await sleep(50);
    }
  }
  return exporter;
}

/** HTTP over a unix socket, as the hop3-health commands send it to the operator socket; the body parsed when it is JSON. */
export async function operatorRequest(socketPath: string, method: "GET" | "POST", requestPath: string, body?: unknown, rawType?: string): Promise<{ status: number; body: unknown }> {
  // With rawType, the body is a string sent as it is, with that content type.
  const sent = body === undefined ? undefined : rawType !== undefined && typeof body === "string" ? { text: body, type: rawType } : { text: JSON.stringify(body), type: "application/json" };
  const answer = await requestOverSocket(socketPath, method, requestPath, sent, 60);
  if (!answer) throw new Error(`nothing answered on ${socketPath}`);
  try {
    return { status: answer.status, body: JSON.parse(answer.text) as unknown };
  } catch {
    return { status: answer.status, body: answer.text };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `probe` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 15_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    await sleep(100);
  }
}

/** The value of one series in a Prometheus text exposition, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = Object.fromEntries([...(match[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? "", m[2] ?? ""]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[4]);
  }
  return undefined;
}

/** A plugin folder with checks whose behaviour the test controls through files. */
export async function controllablePlugin(dir = tempDir("hop3-health-plugin-")): Promise<string> {
  await writeFile(
    path.join(dir, "controlled.mjs"),
    `import { readFileSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
const dir = ${JSON.stringify(dir)};
const read = (name, fallback) => { try { return readFileSync(path.join(dir, name), "utf8").trim(); } catch { return fallback; } };
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); reject(new Error("aborted")); });
});
export default {
  name: "controlled",
  getHealthChecks: () => ["one", "two", "three", "off"].map((id) => ({
    id: "ctl-" + id, name: "Controlled " + id, section: "Apps",
    isConfigured: () => read(id + ".severity", "ok") !== "skip",
    async check(signal) {
      const delay = Number(read(id + ".delay", "0"));
      if (delay > 0) {
        writeFileSync(path.join(dir, id + ".started"), String(Date.now()));
        await sleep(delay, signal);
        writeFileSync(path.join(dir, id + ".finished"), String(Date.now()));
      }
      const severity = read(id + ".severity", "ok");
      return { name: "Controlled " + id, passed: severity === "ok", severity, message: read(id + ".message", "severity " + severity) };
    },
  })),
};
`,
  );
  return dir;
}
