// Which TCP ports take connections, read from /proc/net/tcp and tcp6 (sockets in LISTEN state):
// two file reads answer for every app at once, where a connect per app would poke each of them.
// Where /proc/net cannot be read, a connect answers, as Hop3's own `connect_ex` does.

import { readlinkSync } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";

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

interface Listener {
  address: string;
  port: number;
  /** The socket's inode: /proc/<pid>/fd/<n> of the process holding it links to `socket:[inode]`. */
  inode: number;
}

async function readListeners(file: string): Promise<Listener[]> {
  const found: Listener[] = [];
  for (const line of (await readFile(file, "latin1")).split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] !== LISTEN || fields[1] === undefined) continue;
    const [address, port] = fields[1].split(":");
    if (address === undefined || port === undefined) continue;
    found.push({ address: decodeAddress(address), port: parseInt(port, 16), inode: Number(fields[9]) || 0 });
  }
  return found;
}

// The kernel walks its whole socket table for each read (milliseconds, whatever the number of
// sockets), so the read is off the event loop, and shared by every app asking within half a second.
let cache: { readAt: number; listeners: Promise<Listener[] | null> } | undefined;

/** The listening sockets of this network namespace, at most half a second old; null where /proc/net cannot say. */
function listeners(): Promise<Listener[] | null> {
  if (cache && Date.now() - cache.readAt < 500) return cache.listeners;
  const read = async (): Promise<Listener[] | null> => {
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

async function connectRefused(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  const { default: net } = await import("node:net");
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

/** Whether a unix stream socket refuses connections (nothing accepts there, or no socket at all). */
export async function unixSocketRefuses(file: string, timeoutMs = 1000): Promise<boolean> {
  const { default: net } = await import("node:net");
  return new Promise((resolve) => {
    const socket = net.connect({ path: file });
    const done = (refused: boolean): void => {
      socket.destroy();
      resolve(refused);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(false));
    socket.once("error", (error: NodeJS.ErrnoException) => done(error.code === "ECONNREFUSED" || error.code === "ENOENT" || error.code === "ENOTSOCK"));
  });
}

const WILDCARDS = new Set(["0.0.0.0", "::"]);

function listenersOf(known: readonly Listener[], host: string, port: number): Listener[] {
  const wanted = host.toLowerCase();
  return known.filter((l) => l.port === port && (WILDCARDS.has(l.address) || l.address === wanted));
}

/** Whether a connection to host:port would be refused: nothing listens there. */
export async function portRefuses(host: string, port: number): Promise<boolean> {
  const known = await listeners();
  if (known === null) return connectRefused(host, port);
  return listenersOf(known, host, port).length === 0;
}

/** The socket inodes a process holds (each with a descriptor it is open as), or null when its descriptors may not be read (another user's). At most 4,096 are looked at. */
export async function socketInodes(pid: number): Promise<Map<number, string> | null> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? new Map() : null;
  }
  const inodes = new Map<number, string>();
  await Promise.all(
    fds.slice(0, 4096).map(async (fd) => {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match) inodes.set(Number(match[1]), fd);
    }),
  );
  return inodes;
}

/** Whether the process still holds that socket at that descriptor (one readlink). */
function stillHolds(holder: Holder): boolean {
  try {
    return readlinkSync(`/proc/${holder.pid}/fd/${holder.fd}`) === `socket:[${holder.inode}]`;
  } catch {
    return false;
  }
}

/**
 * Who holds the socket listening on host:port, asked of the given processes only (an app's own,
 * then the other apps'): "none" when nothing listens, the pid that holds it, "unknown" when
 * none of them does or their descriptors may not be read (another user's processes).
 */
export async function listenerHolder(host: string, port: number, candidates: readonly number[]): Promise<{ pid: number } | "none" | "unknown"> {
  // A listening socket's holder, once found, stays known while that process holds the socket: a
  // socket listens on its address until it is closed, so neither the socket table (a walk of the
  // kernel's whole table, milliseconds) nor the process's descriptors are read again.
  const where = `${host.toLowerCase()}:${port}`;
  const found = holders.get(where);
  if (found && candidates.includes(found.pid) && stillHolds(found)) return { pid: found.pid };
  const known = await listeners();
  if (known === null) return "unknown";
  const inodes = new Set(listenersOf(known, host, port).map((l) => l.inode).filter((i) => i !== 0));
  if (inodes.size === 0) return "none";
  for (const pid of candidates) {
    const held = await socketInodes(pid);
    const inode = held ? [...inodes].find((i) => held.has(i)) : undefined;
    if (held && inode !== undefined) {
      if (holders.size > 10_000) holders.clear();
      holders.set(where, { pid, inode, fd: held.get(inode)! });
      return { pid };
    }
  }
  return "unknown";
}

interface Holder {
  pid: number;
  inode: number;
  fd: string;
}

/** By host:port, the listening socket last found there and the process found holding it. */
const holders = new Map<string, Holder>();
