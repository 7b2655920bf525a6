// Who this server is: the header of the report and `hop3_server_info`.

import { readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Identity } from "../health/outcome.js";
import { KiB, readBoundedFile } from "../hop3/files.js";
import { readProcFileSync } from "../hop3/processes.js";
import { glob } from "../lib/glob.js";

export interface IdentityOverrides {
  hostname?: string | undefined;
  ip?: string | undefined;
  version?: string | undefined;
}

export async function gatherIdentity(hop3Root: string, overrides: IdentityOverrides = {}): Promise<Identity> {
  const uptimeSeconds = readUptimeSeconds();
  const detected = overrides.version === undefined ? await knownHop3Version(hop3Root) : undefined;
  return {
    hostname: overrides.hostname ?? os.hostname(),
    ip: overrides.ip ?? knownIp() ?? "unknown",
    version: overrides.version ?? detected?.version ?? "unknown",
    ...(detected?.commit !== undefined ? { commit: detected.commit } : {}),
    uptime: uptimeSeconds === null ? "unknown" : formatUptime(uptimeSeconds),
    uptime_seconds: uptimeSeconds,
  };
}

/** The version and the address looked up at most once a minute: they change with an upgrade or a new network, and `serve` asks every cycle. */
const VERSION_MAX_AGE_MS = 60_000;
let address: { at: number; found: string | undefined } | undefined;

/** The address, from the interfaces (a netlink dump of each, the dearest part of the identity). */
function knownIp(): string | undefined {
  if (!address || Date.now() - address.at >= VERSION_MAX_AGE_MS) address = { at: Date.now(), found: primaryIp(os.networkInterfaces()) };
  return address.found;
}
const versions = new Map<string, { at: number; found: ReturnType<typeof detectHop3Version> }>();

function knownHop3Version(hop3Root: string): ReturnType<typeof detectHop3Version> {
  const known = versions.get(hop3Root);
  if (known && Date.now() - known.at < VERSION_MAX_AGE_MS) return known.found;
  const found = detectHop3Version(hop3Root);
  versions.set(hop3Root, { at: Date.now(), found });
  return found;
}

/** The first non-loopback IPv4 address, else the first global IPv6 one. */
export function primaryIp(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>): string | undefined {
  const all = Object.values(interfaces).flatMap((list) => list ?? []).filter((a) => !a.internal);
  const v4 = all.find((a) => a.family === "IPv4" && !a.address.startsWith("169.254."));
  const v6 = all.find((a) => a.family === "IPv6" && !a.address.toLowerCase().startsWith("fe80"));
  return (v4 ?? v6)?.address;
}

/** "14d 3h" from a day on, "3h 7m" below. */
export function formatUptime(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const days = Math.floor(whole / 86400);
  const hours = Math.floor((whole % 86400) / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  return days > 0 ? `${days}d ${hours}h` : `${hours}h ${minutes}m`;
}

/** The kernel's uptime, read from /proc at once (four trips through the thread pool cost more than the read). */
function readUptimeSeconds(): number | null {
  const value = Number(readProcFileSync("/proc/uptime", 64)?.split(/\s+/)[0]);
  return Number.isFinite(value) ? value : null;
}

/** A JSON object from a small file, or undefined. */
async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = JSON.parse(await readBoundedFile(file, { maxBytes: 64 * KiB }));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function shortString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" && value.length <= 100 ? value.trim() : undefined;
}

/**
 * The version of the installed Hop3 server (HOP3-SERVER.md §7): `HOP3_ROOT/build-info.json` with
 * its git commit, else the `hop3_server-<version>.dist-info` folder Python's packaging leaves in
 * the server's virtualenv (with the commit of a PEP 610 `direct_url.json`, when there is one).
 */
export async function detectHop3Version(hop3Root: string): Promise<{ version: string; commit?: string } | undefined> {
  const buildInfo = await readJson(path.join(hop3Root, "build-info.json"));
  const built = shortString(buildInfo?.version);
  if (built !== undefined) {
    const commit = shortString(buildInfo?.git_commit);
    return { version: built, ...(commit !== undefined ? { commit } : {}) };
  }
  const sitePackages = [
    path.join(hop3Root, "venv/lib/python3*/site-packages"),
    path.join(hop3Root, ".venv/lib/python3*/site-packages"),
    "/opt/hop3/venv/lib/python3*/site-packages",
    "/usr/local/lib/python3*/dist-packages",
    "/usr/lib/python3/dist-packages",
  ];
  for (const pattern of sitePackages) {
    for (const dir of await glob(pattern)) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      const name = names.find((n) => /^hop3_server-(.+)\.dist-info$/.test(n));
      if (name === undefined) continue;
      const version = /^hop3_server-(.+)\.dist-info$/.exec(name)![1]!;
      const direct = await readJson(path.join(dir, name, "direct_url.json"));
      const commit = shortString((direct?.vcs_info as Record<string, unknown> | undefined)?.commit_id);
      return { version, ...(commit !== undefined ? { commit } : {}) };
    }
  }
  return undefined;
}
