// Hop3's apps as they are on disk (HOP3-SERVER.md §1 and §3): each a folder under
// HOP3_ROOT/apps, meant to run while it has vassal files `uwsgi-enabled/<app>_<kind>.<n>.ini`,
// its processes found by uWSGI's procname prefix or its folder, and where it listens from its
// LIVE_ENV. Read-only, and cheap enough to read every few seconds.

import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import { liveEnvPath, readAppListen, type AppListen } from "./liveenv.js";
import { appsOfProcess, processTable } from "./processes.js";

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
export async function listApps(hop3Root: string): Promise<string[]> {
  try {
    const entries = await readdir(appsDirectory(hop3Root), { withFileTypes: true });
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
export async function enabledVassals(hop3Root: string, apps: readonly string[]): Promise<Map<string, Vassal[]>> {
  const byApp = new Map<string, Vassal[]>(apps.map((app) => [app, []]));
  const dir = path.join(hop3Root, "uwsgi-enabled");
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return byApp;
  }
  const longestFirst = [...apps].sort((a, b) => b.length - a.length);
  await Promise.all(
    names.map(async (name) => {
      const app = longestFirst.find((a) => name.startsWith(`${a}_`) && VASSAL_TAIL.test(name.slice(a.length + 1)));
      if (app === undefined) return;
      const [, kind, ordinal] = VASSAL_TAIL.exec(name.slice(app.length + 1))!;
      const file = path.join(dir, name);
      try {
        const info = await lstat(file);
        if (!info.isFile() && !info.isSymbolicLink()) return;
        byApp.get(app)!.push({ file, kind: kind!, ordinal: Number(ordinal), mtimeMs: info.mtimeMs });
      } catch {
        // Removed while listing: a stop in progress.
      }
    }),
  );
  for (const list of byApp.values()) list.sort((a, b) => a.file.localeCompare(b.file));
  return byApp;
}

export interface AppRuntime {
  app: string;
  dir: string;
  /** The enabled vassals: the app is meant to run while there is one. */
  vassals: Vassal[];
  /** The kinds of its enabled workers, and whether one of them answers HTTP. */
  kinds: string[];
  web: boolean;
  /** Its live processes. */
  pids: number[];
  listen: AppListen;
  /** Changes when Hop3 (re)spawns the app: its LIVE_ENV and its vassal files. */
  signature: string;
}

async function liveEnvSignature(appDir: string): Promise<string> {
  try {
    const info = await lstat(liveEnvPath(appDir));
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

/** What is on disk and in the process table about one app, or about several (one reading of each). */
export async function appRuntimes(hop3Root: string, apps: readonly string[]): Promise<AppRuntime[]> {
  const [vassals, processes] = await Promise.all([enabledVassals(hop3Root, apps), processTable()]);
  const wanted = new Set(apps);
  const pidsOf = new Map<string, number[]>();
  for (const info of processes) {
    for (const app of new Set(appsOfProcess(info, appsDirectory(hop3Root)))) {
      if (wanted.has(app)) pidsOf.set(app, [...(pidsOf.get(app) ?? []), info.pid]);
    }
  }
  return Promise.all(
    apps.map(async (app) => {
      const dir = appDirectory(hop3Root, app);
      const own = vassals.get(app) ?? [];
      const kinds = [...new Set(own.map((v) => v.kind))];
      const envSignature = await liveEnvSignature(dir);
      const listen = await listenOf(dir, envSignature);
      return {
        app,
        dir,
        vassals: own,
        kinds,
        web: kinds.some((k) => WEB_KINDS.has(k)),
        pids: pidsOf.get(app) ?? [],
        listen,
        signature: `${envSignature}|${own.map((v) => `${path.basename(v.file)}@${v.mtimeMs}`).join(",")}`,
      };
    }),
  );
}
