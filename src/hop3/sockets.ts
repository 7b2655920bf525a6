// Which TCP ports take connections, read from /proc/net/tcp and tcp6 (sockets in LISTEN state):
// two file reads answer for every app at once, where a connect per app would poke each of them.
// Where /proc/net cannot be read, a connect answers, as Hop3's own `connect_ex` does.

import { readFile } from "node:fs/promises";
import net from "node:net";

const LISTEN = "0A";

/** "0100007F" (little-endian IPv4) → "127.0.0.1"; 32 hex digits (IPv6, four little-endian words) → "::1" etc. */
function decodeAddress(hex: string): string {
  if (hex.length === 8) return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(".");
  const bytes: number[] = [];
  for (let word = 0; word < 4; word++) {
    const chunk = hex.slice(word * 8, word * 8 + 8);
    for (const i of [6, 4, 2, 0]) bytes.push(parseInt(chunk.slice(i, i + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  const full = groups.join(":");
  // IPv4-mapped: ::ffff:a.b.c.d
  if (full.startsWith("0:0:0:0:0:ffff:")) return bytes.slice(12).join(".");
  return full === "0:0:0:0:0:0:0:0" ? "::" : full === "0:0:0:0:0:0:0:1" ? "::1" : full;
}

async function readListeners(file: string): Promise<Array<{ address: string; port: number }>> {
  const found: Array<{ address: string; port: number }> = [];
  for (const line of (await readFile(file, "latin1")).split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] !== LISTEN || fields[1] === undefined) continue;
    const [address, port] = fields[1].split(":");
    if (address === undefined || port === undefined) continue;
    found.push({ address: decodeAddress(address), port: parseInt(port, 16) });
  }
  return found;
}

// The kernel walks its whole socket table for each read (milliseconds, whatever the number of
// sockets), so the read is off the event loop, and shared by every app asking within half a second.
let cache: { readAt: number; listeners: Promise<Array<{ address: string; port: number }> | null> } | undefined;

/** The listening sockets of this network namespace, at most half a second old; null where /proc/net cannot say. */
function listeners(): Promise<Array<{ address: string; port: number }> | null> {
  if (cache && Date.now() - cache.readAt < 500) return cache.listeners;
  const read = async (): Promise<Array<{ address: string; port: number }> | null> => {
    try {
      const [v4, v6] = await Promise.all([readListeners("/proc/net/tcp"), readListeners("/proc/net/tcp6").catch(() => [])]);
      return [...v4, ...v6];
    } catch {
      return null;
    }
  };
  cache = { readAt: Date.now(), listeners: read() };
  return cache.listeners;
}

function connectRefused(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (refused: boolean): void => {
      socket.destroy();
      resolve(refused);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(false));
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code === "ECONNREFUSED"));
  });
}

const WILDCARDS = new Set(["0.0.0.0", "::"]);

/** Whether a connection to host:port would be refused: nothing listens there. */
export async function portRefuses(host: string, port: number): Promise<boolean> {
  const known = await listeners();
  if (known === null) return connectRefused(host, port);
  const wanted = host.toLowerCase();
  return !known.some((l) => l.port === port && (WILDCARDS.has(l.address) || l.address === wanted));
}
