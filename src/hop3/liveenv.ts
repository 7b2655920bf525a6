// Where an app listens, from what Hop3 wrote at its last spawn: `apps/<name>/venv/LIVE_ENV`
// (KEY=VALUE lines, no quoting, split at the first `=`), else the `PORT=` line of the legacy
// `apps/<name>/ENV`. LIVE_ENV holds every secret of the app in clear: only PORT, HOST_NAME and
// BIND_ADDRESS are kept, and of the addon URLs (DATABASE_URL, REDIS_URL, …) only their scheme,
// which says which backing service the app uses; nothing else read from it is held or shown.

import path from "node:path";
import { FileReadError, KiB, readBoundedFile } from "./files.js";

export interface AppListen {
  /** The port, 0 for a static app (nginx serves its files), undefined when none is known. */
  port?: number;
  /** Where the app binds; requests go there. Default 127.0.0.1. */
  bindAddress: string;
  /** The first name of HOST_NAME (else of NGINX_SERVER_NAME, as older servers write it), or undefined (catch-all `_`, or none). */
  hostName?: string;
  /** Where the app listens when nginx reaches it over uWSGI's own protocol: BIND_ADDRESS=unix://<path> (no PORT). */
  socket?: string;
  /** The file it came from, or undefined when none was found. */
  source?: string;
  /** The backing services the app uses (check ids), from the schemes of its `*_URL` values. */
  dependencies?: string[];
}

/** An addon URL's scheme → the check of the service behind it. */
const SCHEMES: Record<string, string> = {
  postgres: "postgresql",
  postgresql: "postgresql",
  mysql: "mysql",
  mariadb: "mysql",
  redis: "redis",
  rediss: "redis",
  s3: "s3",
};

/** The checks of the backing services that a KEY=VALUE file's `*_URL` values point at. */
export function dependenciesIn(text: string): string[] {
  const found = new Set<string>();
  for (const line of text.split("\n")) {
    const match = /^\s*(?:export\s+)?[A-Z0-9_]*_URL\s*=\s*([a-z][a-z0-9]*)(?:\+[a-z0-9]+)?:\/\//.exec(line);
    const check = match ? SCHEMES[match[1]!] : undefined;
    if (check !== undefined) found.add(check);
  }
  return [...found].sort();
}

const KEPT = new Set(["PORT", "HOST_NAME", "NGINX_SERVER_NAME", "BIND_ADDRESS"]);
const MAX_ENV_BYTES = 1024 * KiB;

export function liveEnvPath(appDir: string): string {
  return path.join(appDir, "venv", "LIVE_ENV");
}

/** The kept keys of a KEY=VALUE file; comments, blank and malformed lines are skipped. */
export function parseEnvLines(text: string): Map<string, string> {
  const kept = new Map<string, string>();
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) continue;
    const key = trimmed.slice(0, eq).trim().replace(/^export\s+/, "");
    if (KEPT.has(key)) kept.set(key, trimmed.slice(eq + 1).trim());
  }
  return kept;
}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const unquoted = value.replace(/^(["'])(.*)\1$/, "$2");
  if (!/^\d{1,5}$/.test(unquoted)) return undefined;
  const port = Number(unquoted);
  return port <= 65535 ? port : undefined;
}

/** Requests go to the bind address; "every interface" is reached on loopback. */
function reachableAddress(bind: string | undefined): string {
  const address = (bind ?? "").replace(/^\[|\]$/g, "");
  if (address === "" || address === "0.0.0.0") return "127.0.0.1";
  if (address === "::") return "::1";
  return address;
}

async function readKept(file: string, appDir: string): Promise<{ kept: Map<string, string>; dependencies: string[] } | undefined> {
  try {
    const text = await readBoundedFile(file, { maxBytes: MAX_ENV_BYTES, within: appDir });
    return { kept: parseEnvLines(text), dependencies: dependenciesIn(text) };
  } catch (error) {
    if (error instanceof FileReadError) return undefined;
    throw error;
  }
}

/** The first name of a space-separated list, unless it is the catch-all `_`. */
function firstName(list: string | undefined): string | undefined {
  const first = list?.split(/\s+/).find((name) => name !== "");
  return first !== undefined && first !== "_" ? first : undefined;
}

/** Where the app listens, as Hop3 last started it. */
export async function readAppListen(appDir: string): Promise<AppListen> {
  for (const file of [liveEnvPath(appDir), path.join(appDir, "ENV")]) {
    const read = await readKept(file, appDir);
    if (read === undefined) continue;
    const port = parsePort(read.kept.get("PORT"));
    const bind = read.kept.get("BIND_ADDRESS");
    const socket = bind?.startsWith("unix://") ? bind.slice("unix://".length) : undefined;
    if (port === undefined && socket === undefined) continue;
    const hostName = firstName(read.kept.get("HOST_NAME")) ?? firstName(read.kept.get("NGINX_SERVER_NAME"));
    return {
      ...(port !== undefined ? { port } : {}),
      bindAddress: socket !== undefined ? "127.0.0.1" : reachableAddress(bind),
      ...(socket !== undefined ? { socket } : {}),
      ...(hostName !== undefined ? { hostName } : {}),
      source: file,
      ...(read.dependencies.length > 0 ? { dependencies: read.dependencies } : {}),
    };
  }
  return { bindAddress: "127.0.0.1" };
}
