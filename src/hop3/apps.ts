// Hop3's apps as they are on disk (HOP3-SERVER.md §1 and §3): each a folder under
// HOP3_ROOT/apps, meant to run while it has vassal files `uwsgi-enabled/<app>_<kind>.<n>.ini`,
// its processes found by uWSGI's procname prefix or its folder, and where it listens from its
// LIVE_ENV. Read-only, and cheap enough to read every few seconds.

import { lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { appOfVassalFile, emperorView, type EmperorView, type VassalGroup } from "./emperor.js";
import { liveEnvPath, readAppListen, type AppListen } from "./liveenv.js";
import { appsOfProcess, processTable, processTree, seesOtherUsersProcesses } from "./processes.js";
import { listenerHolder, socketInodes } from "./sockets.js";

/** The worker kinds that answer HTTP (Hop3's `web_workers`). */
export const WEB_KINDS: ReadonlySet<string> = new Set(["wsgi", "jwsgi", "rwsgi", "web"]);

export class AppNameError extends Error {
  override name = "AppNameError";
}

/** Hop3's rule for app names: none empty, starting with ".", or holding "..", "/" or "\". */
export function isAppName(name: string): boolean {
  return name !== "" && !name.startsWith(".") && !name.includes("..") && !/[/\\\0]/.test(name) && name.length <= 255;
}

export function appsDirectory(hop3Root: string): string {
  return path.join(hop3Root, "apps");
}

export function appDirectory(hop3Root: string, app: string): string {
  if (!isAppName(app)) throw new AppNameError(`${JSON.stringify(app.slice(0, 100))} is not an app name`);
  return path.join(appsDirectory(hop3Root), app);
}

/** The apps under HOP3_ROOT/apps, by name; none when the folder is missing. */
/**
 * Readings of uwsgi-enabled/ and apps/ shared by the checks of one moment (a cycle's app checks,
 * which run together) for at most SHARED_READING_MS; a scan after a change starts afresh.
 */
const SHARED_READING_MS = 500;
const shared = new Map<string, { at: number; value: Promise<unknown> }>();

function sharedReading<T>(key: string, read: () => T | Promise<T>): Promise<T> {
  const now = Date.now();
  const found = shared.get(key);
  if (found && now - found.at < SHARED_READING_MS) return found.value as Promise<T>;
  if (shared.size > 64) shared.clear();
  // A reading that throws is a rejection, as its callers await it.
  const value = new Promise<T>((resolve) => resolve(read()));
  shared.set(key, { at: now, value });
  return value;
}

export function forgetSharedReadings(): void {
  shared.clear();
}

export function listApps(hop3Root: string): Promise<string[]> {
  return sharedReading(`apps\0${hop3Root}`, () => readAppNames(hop3Root));
}

function readAppNames(hop3Root: string): string[] {
  try {
    const entries = readdirSync(appsDirectory(hop3Root), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && isAppName(e.name)).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

export interface Vassal {
  file: string;
  kind: string;
  ordinal: number;
  mtimeMs: number;
}

const VASSAL_TAIL = /^(.+)\.(\d+)\.ini$/;

/**
 * The enabled vassals of each app. A file `<app>_<kind>.<n>.ini` goes to the longest app name it
 * starts with, so `a_b_web.1.ini` is app `a_b`'s, not `a`'s (Hop3's own `<app>*.ini` glob mixes them).
 */
export function enabledVassals(hop3Root: string, apps: readonly string[]): Promise<ReadonlyMap<string, readonly Vassal[]>> {
  return sharedReading(`vassals\0${hop3Root}\0${apps.join("\0")}`, () => readEnabledVassals(hop3Root, apps));
}

function readEnabledVassals(hop3Root: string, apps: readonly string[]): Map<string, Vassal[]> {
  const byApp = new Map<string, Vassal[]>(apps.map((app) => [app, []]));
  const dir = path.join(hop3Root, "uwsgi-enabled");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return byApp;
  }
  const longestFirst = [...apps].sort((a, b) => b.length - a.length);
  for (const name of names) {
    const app = longestFirst.find((a) => name.startsWith(`${a}_`) && VASSAL_TAIL.test(name.slice(a.length + 1)));
    if (app === undefined) continue;
    const [, kind, ordinal] = VASSAL_TAIL.exec(name.slice(app.length + 1))!;
    const file = path.join(dir, name);
    let info;
    try {
      info = lstatSync(file);
    } catch {
      continue; // Removed while listing: a stop in progress.
    }
    if (!info.isFile() && !info.isSymbolicLink()) continue;
    byApp.get(app)!.push({ file, kind: kind!, ordinal: Number(ordinal), mtimeMs: info.mtimeMs });
  }
  for (const list of byApp.values()) list.sort((a, b) => a.file.localeCompare(b.file));
  return byApp;
}

/** Whether any vassal file of the app is in uwsgi-available/ (Hop3 keeps it there when it stops the app). */
export function hasAvailableVassal(hop3Root: string, app: string): boolean {
  try {
    return readdirSync(path.join(hop3Root, "uwsgi-available")).some((name) => name.startsWith(`${app}_`) && name.endsWith(".ini"));
  } catch {
    return false;
  }
}

/**
 * How the app's processes were told apart: `emperor`, by the uWSGI Emperor's process tree (proof);
 * `hint`, by what processes say of themselves (no Emperor of this root is visible); `invisible`,
 * not at all (other users' processes are hidden from this one).
 */
export type Evidence = "emperor" | "hint" | "invisible";

export interface AppRuntime {
  app: string;
  hop3Root: string;
  dir: string;
  /** The enabled vassals: the app is meant to run while there is one. */
  vassals: readonly Vassal[];
  evidence: Evidence;
  /** Its vassal masters under the Emperor (evidence "emperor" only). */
  groups: VassalGroup[];
  /** The Emperor's processes, when visible. */
  emperors: number[];
  /** Every attributed process of the root → its app (the Emperor's tree, or the hints). */
  owners: ReadonlyMap<number, string>;
  /** What an `--emperor-stats` socket says of its vassals, where the operator enabled one. */
  stats?: { respawns: Map<string, number>; blacklisted: boolean };
  /** The kinds of its enabled workers, and whether one of them answers HTTP. */
  kinds: string[];
  web: boolean;
  /** Its live processes. */
  pids: number[];
  listen: AppListen;
  /** Changes when Hop3 (re)spawns the app: its LIVE_ENV and its vassal files. */
  signature: string;
}

function liveEnvSignature(appDir: string): string {
  try {
    const info = lstatSync(liveEnvPath(appDir));
    return `${info.ino}:${info.size}:${info.mtimeMs}`;
  } catch {
    return "-";
  }
}

/** Where each app listens, read again only when its LIVE_ENV changed (or, without one, every time). */
const listenCache = new Map<string, { signature: string; listen: AppListen }>();

async function listenOf(appDir: string, envSignature: string): Promise<AppListen> {
  const cached = listenCache.get(appDir);
  if (cached && cached.signature === envSignature && envSignature !== "-") return cached.listen;
  const listen = await readAppListen(appDir);
  listenCache.set(appDir, { signature: envSignature, listen });
  return listen;
}

export interface Attribution {
  evidence: Evidence;
  emperor: EmperorView | null;
  /** Each app's processes. */
  pidsOf: Map<string, number[]>;
  /** Every attributed process → its app. */
  owners: Map<number, string>;
}

/**
 * Which process is whose: by the Emperor's tree where this root's Emperor is visible (then what
 * a process says of itself counts for nothing), else by the hints Hop3's own reaper uses.
 */
export function attributeProcesses(hop3Root: string, apps: readonly string[]): Promise<Attribution> {
  // Shared by every app asking about the same moment (checks run side by side).
  return sharedReading(`attribution\0${hop3Root}\0${apps.join("\0")}`, () => attribute(hop3Root, apps));
}

/**
 * The Emperor found by the last reading of the whole process table, per HOP3_ROOT: while it lives
 * (same pid, same start), its tree alone is read. The whole table is read again every
 * WHOLE_TABLE_MS, and whenever the Emperor is gone.
 */
const knownEmperors = new Map<string, { pid: number; start: number; tableReadAt: number }>();
const WHOLE_TABLE_MS = 5 * 60_000;

async function attribute(hop3Root: string, apps: readonly string[]): Promise<Attribution> {
  const known = knownEmperors.get(hop3Root);
  const tree = known && Date.now() - known.tableReadAt < WHOLE_TABLE_MS ? await processTree(known.pid, known.start) : undefined;
  const processes = tree ?? (await processTable());
  const pidsOf = new Map<string, number[]>();
  const emperor = await emperorView(hop3Root, apps, processes);
  if (emperor) {
    const first = processes.find((p) => p.pid === emperor.emperors[0]);
    if (!tree && first) knownEmperors.set(hop3Root, { pid: first.pid, start: first.startTicks, tableReadAt: Date.now() });
    for (const [pid, app] of emperor.owner) pidsOf.set(app, [...(pidsOf.get(app) ?? []), pid]);
    return { evidence: "emperor", emperor, pidsOf, owners: emperor.owner };
  }
  knownEmperors.delete(hop3Root);
  // The Emperor known no longer watches this root: the whole table says what there is now.
  if (tree) return attribute(hop3Root, apps);
  const wanted = new Set(apps);
  const owners = new Map<number, string>();
  for (const info of processes) {
    for (const app of new Set(appsOfProcess(info, appsDirectory(hop3Root)))) {
      if (!wanted.has(app)) continue;
      pidsOf.set(app, [...(pidsOf.get(app) ?? []), info.pid]);
      owners.set(info.pid, app);
    }
  }
  return { evidence: pidsOf.size > 0 || seesOtherUsersProcesses() ? "hint" : "invisible", emperor: null, pidsOf, owners };
}

function statsOf(stats: NonNullable<EmperorView["stats"]>, app: string, apps: readonly string[]): { respawns: Map<string, number>; blacklisted: boolean } {
  const mine = (id: string): boolean => appOfVassalFile(id, apps)?.app === app;
  return {
    respawns: new Map(stats.vassals.filter((v) => mine(v.id)).map((v) => [v.id, v.respawns])),
    blacklisted: stats.blacklist.some(mine),
  };
}

/** What is on disk and in the process table about one app, or about several (one reading of each). */
export async function appRuntimes(hop3Root: string, apps: readonly string[], allApps?: readonly string[]): Promise<AppRuntime[]> {
  // Vassal masters are named among every app of the root, so `a` never takes `a_b`'s.
  const known = allApps ?? (apps.length === 1 ? await listApps(hop3Root) : apps);
  const [vassals, attribution] = await Promise.all([enabledVassals(hop3Root, known), attributeProcesses(hop3Root, known)]);
  const { pidsOf } = attribution;
  const stats = attribution.emperor?.stats;
  return Promise.all(
    apps.map(async (app) => {
      const dir = appDirectory(hop3Root, app);
      const own = vassals.get(app) ?? [];
      const kinds = [...new Set(own.map((v) => v.kind))];
      const envSignature = liveEnvSignature(dir);
      const listen = await listenOf(dir, envSignature);
      return {
        app,
        hop3Root,
        dir,
        vassals: own,
        evidence: attribution.evidence,
        owners: attribution.owners,
        emperors: attribution.emperor?.emperors ?? [],
        groups: attribution.emperor?.groups.filter((g) => g.app === app) ?? [],
        ...(stats ? { stats: statsOf(stats, app, known) } : {}),
        kinds,
        web: kinds.some((k) => WEB_KINDS.has(k)),
        pids: pidsOf.get(app) ?? [],
        listen,
        signature: `${envSignature}|${own.map((v) => `${path.basename(v.file)}@${v.mtimeMs}`).join(",")}`,
      };
    }),
  );
}

export type PortOwner = { kind: "own" } | { kind: "other"; app: string; pid: number } | { kind: "none" } | { kind: "unknown"; visible: boolean };

/**
 * Whose listening socket answers on the app's port: its own processes', another app's, nobody's
 * (nothing listens), or unknown (held by no attributed process, or descriptors this user may not
 * read: `visible` says which).
 */
export async function portOwner(runtime: AppRuntime, host: string, port: number): Promise<PortOwner> {
  const own = await listenerHolder(host, port, runtime.pids);
  if (own === "none") return { kind: "none" };
  if (own !== "unknown") return { kind: "own" };
  const visible = runtime.pids.length > 0 ? (await socketInodes(runtime.pids[0]!)) !== null : runtime.evidence !== "invisible";
  const others = [...runtime.owners].filter(([, app]) => app !== runtime.app).map(([pid]) => pid);
  const other = await listenerHolder(host, port, others);
  if (typeof other === "object") return { kind: "other", app: runtime.owners.get(other.pid)!, pid: other.pid };
  return { kind: "unknown", visible };
}
