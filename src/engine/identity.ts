// Who this server is: the header of the report and `hop3_server_info`.

import { readdir, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Identity } from "../health/outcome.js";
import { glob } from "../lib/glob.js";

export interface IdentityOverrides {
  hostname?: string | undefined;
  ip?: string | undefined;
  version?: string | undefined;
}

export async function gatherIdentity(hop3Root: string, overrides: IdentityOverrides = {}): Promise<Identity> {
  const uptimeSeconds = await readUptimeSeconds();
  return {
    hostname: overrides.hostname ?? os.hostname(),
    ip: overrides.ip ?? primaryIp(os.networkInterfaces()) ?? "unknown",
    version: overrides.version ?? (await detectHop3Version(hop3Root)) ?? "unknown",
    uptime: uptimeSeconds === null ? "unknown" : formatUptime(uptimeSeconds),
    uptime_seconds: uptimeSeconds,
  };
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

async function readUptimeSeconds(): Promise<number | null> {
  try {
    const value = Number((await readFile("/proc/uptime", "utf8")).split(/\s+/)[0]);
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * The version of an installed Hop3 server, from the `hop3_server-<version>.dist-info` folder
 * Python's packaging leaves in the virtualenv Hop3 runs from (or a system site-packages).
 */
export async function detectHop3Version(hop3Root: string): Promise<string | undefined> {
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
      const match = names.map((n) => /^hop3_server-(.+)\.dist-info$/.exec(n)).find((m) => m !== null);
      if (match) return match[1];
    }
  }
  return undefined;
}
