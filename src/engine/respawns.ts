// Crash loops, from what every server has. uWSGI respawns a vassal that dies (the Emperor starts
// a new master for its `.ini`) and a master respawns an attach-daemon that exits; neither says so
// anywhere hop3-health can always read (the Emperor's `--stats` socket lists no vassals, and its
// log is shared with the vassals, so any tenant can write lines into it). What cannot be forged:
// the vassal master under the Emperor, and the daemons under a master, are new processes (another
// pid, another start time) while the app's vassal files did not change. Where the operator gave
// the Emperor an `--emperor-stats` socket, its per-vassal `respawns` and its blacklist count too.

import type { AppRuntime } from "../hop3/apps.js";

/** Respawns within this window… */
export const CRASH_LOOP_WINDOW_MS = 10 * 60_000;
/** …this many of them, the last one recent, make a crash loop. */
export const CRASH_LOOP_RESPAWNS = 3;
const RECENT_MS = 60_000;

interface AppRespawns {
  /** Every respawn seen since this process started (hop3_app_respawns_total). */
  total: number;
  /** When the recent ones were seen. */
  times: number[];
  /** The vassal files' signature when last seen: a change is a deploy or a restart, not a crash. */
  signature: string;
  /** Processes seen before ("pid:start"), by what they are (master of a kind, daemon of a kind). */
  seen: Map<string, Set<string>>;
  /** When a process of each kind was last seen. */
  seenAt: Map<string, number>;
  /** `respawns` of the Emperor's stats, by vassal id. */
  statsRespawns: Map<string, number>;
  blacklisted: boolean;
}

const byApp = new Map<string, AppRespawns>();

function remember(set: Set<string>, key: string): void {
  set.add(key);
  // A bounded memory: the oldest keys go first.
  if (set.size > 64) set.delete(set.values().next().value!);
}

function entryOf(app: string, signature: string): AppRespawns {
  let entry = byApp.get(app);
  if (!entry) {
    entry = { total: 0, times: [], signature, seen: new Map(), seenAt: new Map(), statsRespawns: new Map(), blacklisted: false };
    byApp.set(app, entry);
  }
  return entry;
}

/** Whether this process of `what` is new where another was seen before: a respawn, unless the app was redeployed. */
function noteIn(entry: AppRespawns, what: string, key: string, redeployed: boolean, now: number): boolean {
  const seen = entry.seen.get(what) ?? new Set<string>();
  entry.seen.set(what, seen);
  entry.seenAt.set(what, now);
  if (seen.has(key)) return false;
  const respawn = seen.size > 0 && !redeployed;
  remember(seen, key);
  return respawn;
}

function count(entry: AppRespawns, respawned: number, now: number): void {
  if (respawned === 0) return;
  entry.total += respawned;
  for (let i = 0; i < respawned; i++) entry.times.push(now);
  entry.times = entry.times.filter((t) => now - t <= CRASH_LOOP_WINDOW_MS).slice(-1000);
}

/** Set while the Emperor's log is read: it counts every vassal death, so new masters are not counted again. */
let deathsFromLog = false;

export function countDeathsFromLog(on: boolean): void {
  deathsFromLog = on;
}

/** A vassal death the Emperor logged; counted once per pid. Whether it was new. */
export function noteVassalDeath(app: string, pid: number, time: number, now = Date.now()): boolean {
  const entry = byApp.get(app);
  if (!entry || now - time > CRASH_LOOP_WINDOW_MS) return false;
  const seen = entry.seen.get("death") ?? new Set<string>();
  entry.seen.set("death", seen);
  if (seen.has(String(pid))) return false;
  remember(seen, String(pid));
  entry.total++;
  entry.times = [...entry.times, time].sort((a, b) => a - b).filter((t) => now - t <= CRASH_LOOP_WINDOW_MS);
  return true;
}

/**
 * A vassal master seen between scans (the Emperor's children, polled): `changedSince` says whether
 * the app's vassal files changed after the given time, for a respawn that is really a deploy.
 * Whether it was a respawn.
 */
export function noteVassalMaster(app: string, kind: string, key: string, changedSince: (time: number) => boolean, now = Date.now()): boolean {
  const entry = byApp.get(app);
  if (!entry) return false;
  const what = `master:${kind}`;
  const redeployed = changedSince((entry.seenAt.get(what) ?? now) - 1000);
  const respawn = noteIn(entry, what, key, redeployed, now) && !deathsFromLog;
  count(entry, respawn ? 1 : 0, now);
  return respawn;
}

/** Takes note of the app's uWSGI processes as seen now; a new process where one was before is a respawn. */
export function trackRespawns(runtime: AppRuntime, now = Date.now()): void {
  const signature = runtime.signature;
  const entry = entryOf(runtime.app, signature);
  const redeployed = entry.signature !== signature;
  entry.signature = signature;
  let respawned = 0;
  const note = (what: string, key: string): void => {
    if (noteIn(entry, what, key, redeployed, now)) respawned++;
  };
  for (const group of runtime.groups) {
    if (deathsFromLog) noteIn(entry, `master:${group.kind}`, `${group.master}:${group.masterStart}`, true, now);
    else note(`master:${group.kind}`, `${group.master}:${group.masterStart}`);
    for (const [pid, start] of group.daemons) note(`daemon:${group.kind}`, `${pid}:${start}`);
  }
  if (runtime.stats) {
    entry.blacklisted = runtime.stats.blacklisted;
    for (const [id, count] of runtime.stats.respawns) {
      const before = entry.statsRespawns.get(id);
      entry.statsRespawns.set(id, count);
      // The stats count what the process tree may have missed between two looks; the larger of the two is kept.
      if (before !== undefined && count > before && !redeployed) respawned = Math.max(respawned, count - before);
    }
  }
  count(entry, respawned, now);
}

export interface RespawnVerdict {
  total: number;
  recent: number;
  crashLoop: boolean;
  message: string;
}

/** What the respawns seen of the app say now. */
export function respawnsOf(app: string, now = Date.now()): RespawnVerdict {
  const entry = byApp.get(app);
  if (!entry) return { total: 0, recent: 0, crashLoop: false, message: "" };
  const recent = entry.times.filter((t) => now - t <= CRASH_LOOP_WINDOW_MS);
  const last = recent.at(-1);
  if (entry.blacklisted) {
    return { total: entry.total, recent: recent.length, crashLoop: true, message: "crash loop: the uWSGI Emperor keeps it throttled (blacklisted) after it died again and again" };
  }
  const crashLoop = recent.length >= CRASH_LOOP_RESPAWNS && last !== undefined && now - last <= RECENT_MS;
  const minutes = Math.max(1, Math.round((now - recent[0]!) / 60_000) || 1);
  return {
    total: entry.total,
    recent: recent.length,
    crashLoop,
    message: crashLoop ? `crash loop: restarted ${recent.length} times in ${minutes} min (uWSGI), the last ${Math.round((now - last) / 1000)}s ago` : "",
  };
}

/** Every app's respawns since start, for hop3_app_respawns_total. */
export function respawnTotals(): Map<string, number> {
  return new Map([...byApp].filter(([, e]) => e.total > 0).map(([app, e]) => [app, e.total]));
}

/** Forgets an app that went away. */
export function forgetRespawns(app: string): void {
  byApp.delete(app);
}
