// What the uWSGI Emperor says about which process is whose (HOP3-SERVER.md §3 and "The uWSGI
// Emperor's stats socket"). Every Hop3 app runs as vassals of one Emperor watching
// HOP3_ROOT/uwsgi-enabled: the Emperor spawns one vassal master per `.ini`, and that master's
// children and their descendants are that vassal's. This is evidence no tenant can forge for
// another: whatever a process writes on its command line or wherever it chdirs, its parent
// stays the vassal master it was forked from. The master itself is named by uWSGI's procname
// prefix `<app>:<kind>:`, which Hop3 writes into the vassal; where the operator gave the Emperor
// an `--emperor-stats` socket, its pid → `.ini` list is read instead.

import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { FileReadError, KiB, readBoundedFile } from "./files.js";
import { processTable, type ProcessInfo } from "./processes.js";

export interface VassalGroup {
  app: string;
  kind: string;
  /** The vassal master's pid, and when it started (clock ticks after boot). */
  master: number;
  masterStart: number;
  /** The master and all its descendants. */
  pids: number[];
  /** Direct children of the master that are not uWSGI workers (attach-daemon processes): pid → start. */
  daemons: Map<number, number>;
}

/** One vassal as an `--emperor-stats` socket lists it. */
export interface StatsVassal {
  id: string;
  pid: number;
  respawns: number;
}

export interface EmperorView {
  /** The Emperor's own processes (its master and the Emperor proper). */
  emperors: number[];
  groups: VassalGroup[];
  /** Every process of a vassal's tree → its app. */
  owner: Map<number, string>;
  /** Where the operator enabled `--emperor-stats`, what it says; undefined otherwise or when it did not answer. */
  stats?: { vassals: StatsVassal[]; blacklist: string[] };
}

function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === flag) return argv[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/** `key = value` lines of a uWSGI ini's [uwsgi] section (the last one wins). */
async function iniValues(file: string): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  let text: string;
  try {
    text = await readBoundedFile(file, { maxBytes: 64 * KiB });
  } catch (error) {
    if (error instanceof FileReadError) return values;
    throw error;
  }
  let inSection = false;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("[")) inSection = trimmed === "[uwsgi]";
    else if (inSection && !trimmed.startsWith("#") && !trimmed.startsWith(";")) {
      const eq = trimmed.indexOf("=");
      if (eq > 0) values.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim());
    }
  }
  return values;
}

/** Whether a directory (or glob) an Emperor watches is this root's uwsgi-enabled. */
function watchesEnabled(watched: string | undefined, cwd: string | undefined, enabledDir: string): boolean {
  if (watched === undefined || watched === "") return false;
  const resolved = path.resolve(cwd ?? "/", watched.replace(/[*?[].*$/, ""));
  return resolved === enabledDir || resolved === `${enabledDir}/` || resolved.startsWith(`${enabledDir}/`);
}

/** The Emperor's settings: from its command line, or the ini it was started with (Hop3 0.4's `uwsgi/uwsgi.ini`). */
async function emperorSettings(info: ProcessInfo): Promise<{ watched?: string; stats?: string }> {
  const watched = flagValue(info.argv, "--emperor");
  const stats = flagValue(info.argv, "--emperor-stats") ?? flagValue(info.argv, "--emperor-stats-server");
  if (watched !== undefined) return { watched, ...(stats !== undefined ? { stats } : {}) };
  const ini = flagValue(info.argv, "--ini") ?? info.argv.slice(1).find((a) => a.endsWith(".ini"));
  if (ini === undefined || !/uwsgi/.test(path.basename(info.argv[0] ?? "") + info.comm)) return {};
  const values = await iniValues(path.resolve(info.cwd ?? "/", ini));
  const fromIni = values.get("emperor");
  const statsFromIni = stats ?? values.get("emperor-stats") ?? values.get("emperor-stats-server");
  return { ...(fromIni !== undefined ? { watched: fromIni } : {}), ...(statsFromIni !== undefined ? { stats: statsFromIni } : {}) };
}

const MAX_STATS_BYTES = 4 * 1024 * KiB;

/** The JSON an `--emperor-stats` socket sends on connect (a unix path, or host:port), within a second and 4 MiB. */
export async function readEmperorStats(address: string, timeoutMs = 1000): Promise<{ vassals: StatsVassal[]; blacklist: string[] } | undefined> {
  // Sockets are loaded by the first command that reads the stats, not by every one that might.
  const { default: net } = await import("node:net");
  return new Promise((resolve) => {
    const tcp = /^(.*):(\d+)$/.exec(address);
    const socket = address.startsWith("/") || !tcp ? net.connect({ path: address }) : net.connect({ host: tcp[1] || "127.0.0.1", port: Number(tcp[2]) });
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: { vassals: StatsVassal[]; blacklist: string[] } | undefined): void => {
      socket.destroy();
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_STATS_BYTES) return done(undefined);
      chunks.push(chunk);
    });
    socket.once("error", () => done(undefined));
    socket.once("end", () => {
      try {
        const doc = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { vassals?: unknown; blacklist?: unknown };
        const list = (value: unknown): Array<Record<string, unknown>> => (Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null) : []);
        done({
          vassals: list(doc.vassals)
            .filter((v) => typeof v.id === "string" && typeof v.pid === "number")
            .map((v) => ({ id: v.id as string, pid: v.pid as number, respawns: typeof v.respawns === "number" ? v.respawns : 0 })),
          blacklist: list(doc.blacklist).flatMap((v) => (typeof v.id === "string" ? [v.id] : [])),
        });
      } catch {
        done(undefined);
      }
    });
  });
}

/** The app a vassal file `<app>_<kind>.<n>.ini` is of: the longest app name it starts with. */
export function appOfVassalFile(id: string, apps: readonly string[]): { app: string; kind: string } | undefined {
  const name = path.basename(id);
  let best: { app: string; kind: string } | undefined;
  for (const app of apps) {
    if (!name.startsWith(`${app}_`) || (best && best.app.length >= app.length)) continue;
    const tail = /^(.+)\.(\d+)\.ini$/.exec(name.slice(app.length + 1));
    if (tail) best = { app, kind: tail[1]! };
  }
  return best;
}

/**
 * Whose vassal master a child of the Emperor is: the `.ini` the Emperor started it with
 * (`uwsgi --ini <app>_<kind>.<n>.ini`, until uWSGI renames it), else uWSGI's procname prefix
 * `<app>:<kind>:…` that Hop3 writes into the vassal.
 */
export function vassalPrefix(info: ProcessInfo, apps: ReadonlySet<string>): { app: string; kind: string } | undefined {
  const ini = flagValue(info.argv, "--ini");
  if (ini !== undefined) return appOfVassalFile(ini, [...apps]);
  const match = /^([^\s:]+):([^\s:]+):/.exec(info.argv.join(" "));
  return match && apps.has(match[1]!) ? { app: match[1]!, kind: match[2]! } : undefined;
}

/**
 * The Emperor of this HOP3_ROOT and its vassals, or null when no such Emperor is visible (not
 * running, running elsewhere, or hidden from this user).
 */
export async function emperorView(hop3Root: string, apps: readonly string[], table?: readonly ProcessInfo[]): Promise<EmperorView | null> {
  const processes = table ?? (await processTable());
  const enabledDir = path.resolve(hop3Root, "uwsgi-enabled");
  const candidates: Array<{ info: ProcessInfo; stats?: string }> = [];
  for (const info of processes) {
    if (!info.argv.some((a) => a.startsWith("--emperor") || a.endsWith(".ini"))) continue;
    const settings = await emperorSettings(info);
    if (watchesEnabled(settings.watched, info.cwd, enabledDir)) candidates.push({ info, ...(settings.stats !== undefined ? { stats: settings.stats } : {}) });
  }
  if (candidates.length === 0) return null;
  // The Emperor is the first to have started: every app's process descends from it, so started
  // after it, and a tenant's process that calls itself an Emperor cannot be older. Its own
  // forked Emperor process (same command line, its child) is part of it.
  candidates.sort((a, b) => a.info.startTicks - b.info.startTicks);
  const first = candidates[0]!;
  const emperors = [first.info];
  const argv = first.info.argv.join("\0");
  for (const { info } of candidates.slice(1)) {
    if (info.argv.join("\0") === argv && emperors.some((e) => e.pid === info.ppid)) emperors.push(info);
  }
  const statsAddress = first.stats;
  const emperorPids = new Set(emperors.map((e) => e.pid));
  const children = new Map<number, ProcessInfo[]>();
  for (const info of processes) children.set(info.ppid, [...(children.get(info.ppid) ?? []), info]);
  const byPid = new Map(processes.map((p) => [p.pid, p]));

  const stats =
    statsAddress === undefined ? undefined : await readEmperorStats(statsAddress.includes("/") ? path.resolve(first.info.cwd ?? "/", statsAddress) : statsAddress);
  const fromStats = new Map<number, { app: string; kind: string }>();
  for (const vassal of stats?.vassals ?? []) {
    const of = appOfVassalFile(vassal.id, apps);
    if (of) fromStats.set(vassal.pid, of);
  }

  const appSet = new Set(apps);
  const groups: VassalGroup[] = [];
  const owner = new Map<number, string>();
  for (const emperor of emperors) {
    for (const master of children.get(emperor.pid) ?? []) {
      if (emperorPids.has(master.pid)) continue;
      const of = stats ? fromStats.get(master.pid) : vassalPrefix(master, appSet);
      if (!of) continue;
      const pids: number[] = [];
      const daemons = new Map<number, number>();
      const queue = [master.pid];
      while (queue.length > 0) {
        const pid = queue.pop()!;
        pids.push(pid);
        owner.set(pid, of.app);
        for (const child of children.get(pid) ?? []) {
          queue.push(child.pid);
          if (pid === master.pid && !/uWSGI (worker|http|mule|spooler)/.test(child.argv.join(" "))) daemons.set(child.pid, child.startTicks);
        }
      }
      groups.push({ app: of.app, kind: of.kind, master: master.pid, masterStart: byPid.get(master.pid)?.startTicks ?? 0, pids, daemons });
    }
  }
  return { emperors: emperors.map((e) => e.pid), groups, owner, ...(stats ? { stats } : {}) };
}

/** Where the Emperor writes its log (its stderr), when that is a regular file (supervisor's, or a redirect); not the journal. */
export function emperorLogFile(emperorPid: number): string | undefined {
  for (const fd of [2, 1]) {
    try {
      const target = readlinkSync(`/proc/${emperorPid}/fd/${fd}`);
      if (target.startsWith("/") && statSync(target).isFile()) return target;
    } catch {
      // Not ours to read, or not a file.
    }
  }
  return undefined;
}

export interface VassalDeath {
  id: string;
  pid: number;
  time: number;
}

/** The most of the Emperor's log read at once: a log that grew more since is read from its last 256 KiB. */
const MAX_LOG_READ = 256 * KiB;

/**
 * The Emperor's log, read as it grows: each `[emperor] curse the uwsgi instance <id> (pid: N)` is a
 * vassal that died and that uWSGI will respawn (a stop says "stop the uwsgi instance", a touch
 * "reload"). The first read takes the last 256 KiB, so deaths before a restart still count.
 */
export class EmperorLogTail {
  private offset = -1;
  private file: string | undefined;

  read(file: string): VassalDeath[] {
    let fd: number | undefined;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      const info = fstatSync(fd);
      if (!info.isFile()) return [];
      if (this.file !== file || info.size < this.offset) this.offset = -1;
      this.file = file;
      const from = this.offset < 0 || info.size - this.offset > MAX_LOG_READ ? Math.max(0, info.size - MAX_LOG_READ) : this.offset;
      const length = info.size - from;
      this.offset = info.size;
      if (length <= 0) return [];
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, from);
      const deaths: VassalDeath[] = [];
      for (const match of buffer.toString("latin1").matchAll(/^(.{24}) - \[emperor\] curse the uwsgi instance (\S+) \(pid: (\d+)\)/gm)) {
        const time = Date.parse(match[1]!.replace(/\s+/g, " "));
        deaths.push({ id: match[2]!, pid: Number(match[3]), time: Number.isFinite(time) ? time : Date.now() });
      }
      return deaths;
    } catch {
      return [];
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
