// Is each app running as it is meant to (ADR 029's reconciliation, observed, never acted on)?
// An app is meant to run while it has enabled vassals; then it needs a process, and a web kind
// needs its port to take connections. `serve` watches this between check cycles, from what the
// kernel says cheaply (a process gone, a vassal or LIVE_ENV changed: see startAppWatch), and scans
// when it says something: a crashed app fails within seconds, not at its next HTTP interval.
//
// The same scan sees deploys with no integration: Hop3 rewrites an app's LIVE_ENV and vassal files
// when it (re)spawns it, and a change there starts the deploy probe over its window. While that
// probe runs the app is "deploying", and its check does not page.

import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
import type { AppSettings } from "../health/model.js";
import { appRuntimes, enabledVassals, forgetSharedReadings, hasAvailableVassal, listApps, type AppRuntime } from "../hop3/apps.js";
import { appOfVassalFile, EmperorLogTail, emperorLogFile, vassalPrefix } from "../hop3/emperor.js";
import { childrenOf, processAlive, readProcessSync } from "../hop3/processes.js";
import { readNginxSite } from "../hop3/nginx.js";
import { portRefuses, unixSocketRefuses } from "../hop3/sockets.js";
import type { Logger } from "../lib/logger.js";
import { runProbe, type Verdict } from "../probe/probe.js";
import { ProbeInputError, resolveProbeTarget } from "../probe/target.js";
import { countDeathsFromLog, forgetRespawns, noteVassalDeath, noteVassalMaster, respawnsOf, trackRespawns } from "./respawns.js";

export type Liveness =
  | { state: "running"; message: string }
  | { state: "down"; message: string; reason: "not_running" | "refused" }
  /** uWSGI keeps respawning it in vain (or has blacklisted it). */
  | { state: "crash_loop"; message: string }
  | { state: "stopped"; message: string }
  /** A static site: nginx serves its files; `viaNginx` when Hop3 wrote a server block for it. */
  | { state: "static"; message: string }
  | { state: "deploying"; message: string }
  /** Meant to run, but other users' processes are hidden from this one: only an answer can tell. */
  | { state: "unseen"; message: string }
  /** Not managed by Hop3's vassals (only in [apps.<name>], or no vassal but configured): HTTP alone says. */
  | { state: "unmanaged"; message: string };

export interface DeployState {
  startedAt: number;
  window: number;
  verdict?: Verdict;
  finishedAt?: number;
}

/** Deploy probes started by the scan, by app; read by the app checks. */
export const deploys = new Map<string, DeployState>();

/** When the restart policy last touched each app's vassal files: that change is a restart, not a deploy. */
const policyTouches = new Map<string, number>();

/** Says that the restart policy is about to touch the app's vassal files (engine/restarts.ts). */
export function noteRestartTouch(app: string): void {
  policyTouches.set(app, Date.now());
}

/** Whether a change of signature is only the restart policy's touch: the same LIVE_ENV, vassals touched within a minute. */
function touchedByPolicy(app: string, before: string, now: string): boolean {
  const at = policyTouches.get(app);
  if (at === undefined) return false;
  policyTouches.delete(app);
  return Date.now() - at < 60_000 && before.slice(0, before.lastIndexOf("|")) === now.slice(0, now.lastIndexOf("|"));
}

/**
 * The state each app was last seen in, by the scan or by its check in a cycle: the scan reacts
 * to a change from whatever was last published, not only from what it saw itself.
 */
const lastSeen = new Map<string, Liveness["state"]>();

function processes(n: number): string {
  return `${n} process${n === 1 ? "" : "es"}`;
}

/** `hop3_app_state`'s value for a liveness: where Hop3 and uWSGI have the app (its health is its severity). */
export function appStateOf(live: Liveness): "running" | "stopped" | "deploying" | "crash_loop" {
  if (live.state === "stopped" || live.state === "deploying" || live.state === "crash_loop") return live.state;
  return "running";
}

/** Whether the app runs as it is meant to, from one reading of its runtime. */
export async function livenessOf(runtime: AppRuntime, configured: AppSettings | undefined): Promise<Liveness> {
  const live = await assess(runtime, configured);
  lastSeen.set(runtime.app, live.state);
  return live;
}

function where(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

async function assess(runtime: AppRuntime, configured: AppSettings | undefined): Promise<Liveness> {
  const deploy = deploys.get(runtime.app);
  if (deploy && deploy.verdict === undefined) {
    const since = Math.round((Date.now() - deploy.startedAt) / 1000);
    return { state: "deploying", message: `deploying: startup probe running for ${since}s (window ${deploy.window}s)` };
  }
  if (runtime.listen.port === 0) return { state: "static", message: "static site (PORT=0): nginx serves its files" };
  const workers = runtime.vassals.map((v) => `${v.kind}.${v.ordinal}`).join(", ");
  if (runtime.vassals.length === 0) {
    // Watched over HTTP only where [apps] says where (port or url): a table with only a restart policy or accepted statuses says nothing of that.
    if (configured?.port !== undefined || configured?.url !== undefined) return { state: "unmanaged", message: "no vassal enabled; watched over HTTP as [apps] configures it" };
    // Older servers: a static site has a PORT nothing listens on and no vassal at all, only its nginx server block.
    if (!hasAvailableVassal(runtime.hop3Root, runtime.app) && (await readNginxSite(runtime.hop3Root, runtime.app)) !== undefined) {
      return { state: "static", message: "static site: nginx serves its files" };
    }
    return { state: "stopped", message: "stopped (no vassal enabled in uwsgi-enabled/)" };
  }
  trackRespawns(runtime);
  const loop = respawnsOf(runtime.app);
  if (loop.crashLoop) return { state: "crash_loop", message: loop.message };
  const { port, bindAddress, socket } = runtime.listen;
  const asConfigured = configured?.port !== undefined || configured?.url !== undefined;
  if (runtime.pids.length === 0) {
    // The answer wins over guesswork: a web app whose port takes connections is judged by its answer.
    if (runtime.web && !asConfigured && port !== undefined && !(await portRefuses(bindAddress, port))) {
      return { state: "running", message: `running: ${where(bindAddress, port)} takes connections (no process of the app seen: judged by its answer)` };
    }
    if (runtime.web && !asConfigured && socket !== undefined && !(await unixSocketRefuses(socket))) {
      return { state: "running", message: `running: ${socket} takes connections (no process of the app seen: judged by its answer)` };
    }
    if (runtime.evidence === "invisible") {
      return { state: "unseen", message: `enabled (${workers}); processes not visible to this user: judged by its answer alone` };
    }
    if (runtime.web && asConfigured) return { state: "running", message: `enabled (${workers}); no process of the app seen: judged by its answer` };
    return { state: "down", reason: "not_running", message: `stopped unexpectedly: enabled (${workers}) but no process of the app is running` };
  }
  if (runtime.web && !asConfigured && port !== undefined && (await portRefuses(bindAddress, port))) {
    return { state: "down", reason: "refused", message: `stopped unexpectedly: nothing listens on ${where(bindAddress, port)} (connection refused), ${processes(runtime.pids.length)} left` };
  }
  if (runtime.web && !asConfigured && port === undefined && socket !== undefined && (await unixSocketRefuses(socket))) {
    return { state: "down", reason: "refused", message: `stopped unexpectedly: nothing accepts on ${socket}, ${processes(runtime.pids.length)} left` };
  }
  return { state: "running", message: `running (${workers}; ${processes(runtime.pids.length)})` };
}

/** How often the Emperor's children are looked at between scans. */
const EMPEROR_POLL_MS = 500;

export interface AppWatchOptions {
  hop3Root: string;
  appsConfig: Record<string, AppSettings>;
  intervalSeconds: number;
  logger: Logger;
  signal: AbortSignal;
  /** Apps whose liveness or deploy state changed: their checks should run now. */
  onChange(apps: string[], events: AppStateEvent[]): Promise<void>;
  /** A deploy probe's verdict, to be counted and logged. */
  onVerdict(verdict: Verdict): Promise<void>;
}

export interface AppStateEvent {
  app: string;
  state: Liveness["state"];
  message: string;
}

export interface AppWatch {
  /** One scan now (tests and the first cycle). */
  scan(): Promise<void>;
  /** Stops watching; deploy probes under way are waited for unless told otherwise (a reload leaves them to finish on their own). */
  stop(options?: { waitForProbes: boolean }): Promise<void>;
}

/** The scan between cycles, in `serve`. */
export function startAppWatch(options: AppWatchOptions): AppWatch {
  const signatures = new Map<string, string>();
  const probes = new Set<Promise<void>>();
  let scanning: Promise<void> | null = null;

  const deployProbe = async (app: string): Promise<void> => {
    let target;
    try {
      target = await resolveProbeTarget({ app }, { hop3Root: options.hop3Root, appsConfig: options.appsConfig });
    } catch (error) {
      if (error instanceof ProbeInputError) options.logger.warn({ app }, `deploy of ${app} seen, not probed: ${error.message}`);
      else options.logger.error({ app }, `deploy of ${app} seen, not probed: ${String(error)}`);
      return;
    }
    options.logger.info({ app, window: target.window }, `deploy of ${app} seen: startup probe for up to ${target.window}s`);
    const state: DeployState = { startedAt: Date.now(), window: target.window };
    deploys.set(app, state);
    void options.onChange([app], []);
    const verdict = await runProbe(target, options.signal);
    if (options.signal.aborted) return;
    state.verdict = verdict;
    state.finishedAt = Date.now();
    await options.onVerdict(verdict);
    await options.onChange([app], []);
  };

  // Between scans, the Emperor's children are polled (one small read): a vassal master that lives
  // half a second in a crash loop is seen, where a scan every few seconds would miss most.
  let emperors: number[] = [];
  let knownApps: string[] = [];
  const seenChildren = new Set<number>();
  const logTail = new EmperorLogTail();
  const pollEmperor = async (): Promise<void> => {
    const fresh: Array<{ pid: number; app: string; kind: string; start: number }> = [];
    for (const emperor of emperors) {
      for (const pid of childrenOf(emperor) ?? []) {
        if (seenChildren.has(pid)) continue;
        seenChildren.add(pid);
        const info = readProcessSync(pid);
        const of = info && !emperors.includes(pid) ? vassalPrefix(info, new Set(knownApps)) : undefined;
        if (info && of) fresh.push({ pid, app: of.app, kind: of.kind, start: info.startTicks });
      }
    }
    if (seenChildren.size > 10_000) seenChildren.clear();
    const rescan: string[] = [];
    // The Emperor's log, where it is a file this user may read: every death, however short the life.
    // A vassal that died is scanned at once (the tick does not signal the Emperor's tree while its
    // log is watched), unless its app is already looked at every tick.
    const logFile = emperorLog.file;
    countDeathsFromLog(logFile !== undefined);
    for (const death of logFile !== undefined ? logTail.read(logFile) : []) {
      const app = appOfVassalFile(death.id, knownApps)?.app;
      if (app === undefined) continue;
      const loops = noteVassalDeath(app, death.pid, death.time) && respawnsOf(app).crashLoop && lastSeen.get(app) !== "crash_loop";
      if (loops || !unsettled.has(app)) rescan.push(app);
    }
    for (const child of fresh) {
      const vassals = (await enabledVassals(options.hop3Root, [child.app])).get(child.app) ?? [];
      const changedSince = (time: number): boolean => vassals.some((v) => v.mtimeMs >= time);
      if (noteVassalMaster(child.app, child.kind, `${child.pid}:${child.start}`, changedSince) && respawnsOf(child.app).crashLoop && lastSeen.get(child.app) !== "crash_loop") rescan.push(child.app);
    }
    if (rescan.length > 0) await scan();
  };
  // Where the Emperor logs to a file this user may read, the file's changes (inotify) say when to
  // look: every death and respawn writes a line there. Otherwise (the journal) its children are
  // polled every EMPEROR_POLL_MS: a few small reads. The timer runs only then: on a virtual
  // machine, each wake-up of an idle process costs a third of a millisecond of CPU, read or not.
  const emperorLog: { pid?: number; file?: string; watcher?: FSWatcher } = {};
  let pollTimer: NodeJS.Timeout | undefined;
  const pollUnlessWatched = (): void => {
    const wanted = options.intervalSeconds > 0 && emperors.length > 0 && !emperorLog.watcher;
    if (wanted && !pollTimer) {
      pollTimer = setInterval(() => void pollEmperor().catch(() => undefined), EMPEROR_POLL_MS);
      pollTimer.unref();
    } else if (!wanted && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = undefined;
    }
  };
  const unwatchLog = (): void => {
    emperorLog.watcher?.close();
    delete emperorLog.watcher;
  };
  const followEmperor = (pid: number | undefined): void => {
    if (pid !== emperorLog.pid) {
      unwatchLog();
      emperorLog.pid = pid;
      emperorLog.file = pid === undefined ? undefined : emperorLogFile(pid);
      if (emperorLog.file !== undefined) {
        try {
          emperorLog.watcher = watch(emperorLog.file, { persistent: false }, (event) => {
            void pollEmperor().catch(() => undefined);
            // Rotated away (renamed, or removed and made again): polled until the next full scan follows the new file.
            if (event === "rename") {
              unwatchLog();
              delete emperorLog.pid;
              pollUnlessWatched();
            }
          });
          emperorLog.watcher.on("error", () => {
            unwatchLog();
            pollUnlessWatched();
          });
        } catch {
          // Out of inotify watches: polled.
        }
      }
    }
    pollUnlessWatched();
  };

  /**
   * What the last full scan saw: the pids to watch (all of them, and those not under the Emperor
   * with the Emperor itself), and the apps not running as meant.
   */
  let watchedPids: number[] = [];
  let loosePids: number[] = [];
  const unsettled = new Set<string>();
  let lastFullScan = 0;

  const scanOnce = async (): Promise<void> => {
    lastFullScan = Date.now();
    forgetSharedReadings();
    const apps = await listApps(options.hop3Root);
    const runtimes = await appRuntimes(options.hop3Root, apps);
    knownApps = apps;
    emperors = runtimes[0]?.emperors ?? [];
    followEmperor(emperors[0]);
    watchedPids = [...emperors, ...runtimes.flatMap((r) => r.pids)];
    loosePids = [...emperors, ...runtimes.filter((r) => r.evidence !== "emperor").flatMap((r) => r.pids)];
    const changed: string[] = [];
    const events: AppStateEvent[] = [];
    await Promise.all(
      runtimes.map(async (runtime) => {
        const { app, signature } = runtime;
        const before = signatures.get(app);
        signatures.set(app, signature);
        // A respawn: a new LIVE_ENV or vassal set, with vassals enabled. Not at the first sight of an app.
        const deploying = deploys.get(app);
        if (before !== undefined && before !== signature && runtime.vassals.length > 0 && !(deploying && deploying.verdict === undefined) && !touchedByPolicy(app, before, signature)) {
          const probe = deployProbe(app).finally(() => probes.delete(probe));
          probes.add(probe);
        }
        const previous = lastSeen.get(app);
        const live = await livenessOf(runtime, options.appsConfig[app]);
        if (UNSETTLED.has(live.state)) unsettled.add(app);
        else unsettled.delete(app);
        if (previous !== undefined && previous !== live.state) {
          changed.push(app);
          events.push({ app, state: live.state, message: live.message });
        }
      }),
    );
    for (const app of [...signatures.keys()]) {
      if (!apps.includes(app)) {
        signatures.delete(app);
        lastSeen.delete(app);
        deploys.delete(app);
        unsettled.delete(app);
        forgetRespawns(app);
        changed.push(app);
      }
    }
    if (changed.length > 0) await options.onChange(changed, events);
  };

  const scan = (): Promise<void> => {
    scanning ??= scanOnce()
      .catch((error: unknown) => options.logger.error(`app scan failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        scanning = null;
      });
    return scanning;
  };

  // Between full scans, what the kernel can say cheaply: whether the processes seen last time are
  // still there (a signal 0 each, no file read), and, from inotify, whether a vassal, an app or a
  // LIVE_ENV changed. A full scan runs when one of them says so, while an app is not running as
  // meant, and every FULL_SCAN_MS regardless. Where the Emperor's log is watched, a vassal's death
  // is in it (pollEmperor), and a worker is its vassal's to respawn: the Emperor itself and the
  // processes not under it are signalled, not its whole tree (each signal costs a system call
  // every tick: with ten apps, half of what an idle tick costs).
  const tick = (): void => {
    if (scanning) return;
    const pids = emperorLog.watcher ? loosePids : watchedPids;
    if (Date.now() - lastFullScan >= FULL_SCAN_MS || unsettled.size > 0 || pids.some((pid) => !processAlive(pid))) void scan();
  };
  const timer = options.intervalSeconds > 0 ? setInterval(tick, options.intervalSeconds * 1000) : undefined;
  timer?.unref();
  const changes = options.intervalSeconds > 0 ? watchForChanges(options.hop3Root, () => void scan(), options.logger) : undefined;
  return {
    scan,
    async stop(how = { waitForProbes: true }) {
      clearInterval(timer);
      clearInterval(pollTimer);
      changes?.close();
      emperorLog.watcher?.close();
      await scanning;
      if (how.waitForProbes) await Promise.all(probes);
    },
  };
}

/**
 * A full scan at least this often, whatever else says: a safety net for what no signal above
 * reports (inotify out of watches, say). The check cycles look at every app in between.
 */
const FULL_SCAN_MS = 5 * 60_000;
/** States that are looked at again at every tick: something is wrong, or about to change. */
const UNSETTLED = new Set<Liveness["state"]>(["down", "crash_loop", "deploying"]);

/** Events closer than this are one scan (a deploy writes several files); a tenant touching its files in a loop gets a scan a second at most. */
const CHANGE_SETTLE_MS = 1000;

/**
 * inotify (fs.watch) on uwsgi-enabled/ (vassals enabled, disabled, touched), apps/ (apps added or
 * removed) and each app's venv/ (LIVE_ENV rewritten by a deploy): `changed` is called once things
 * settle. The app folders are watched again when the apps change.
 */
function watchForChanges(hop3Root: string, changed: () => void, logger: Logger): { close(): void } {
  const watchers = new Map<string, FSWatcher>();
  let pending: NodeJS.Timeout | undefined;
  let lastRun = 0;
  const notify = (): void => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = undefined;
      lastRun = Date.now();
      changed();
      void rearm();
    }, Math.max(100, lastRun + CHANGE_SETTLE_MS - Date.now()));
    pending.unref();
  };
  // Only names that say something: hidden files (the directory checks' own write probes among
  // them) change nothing, and in venv/ only LIVE_ENV does.
  const matters = (dir: string, name: string | null): boolean => {
    if (name === null) return true;
    if (name.startsWith(".")) return false;
    if (path.basename(dir) === "venv") return name === "LIVE_ENV";
    if (path.basename(dir) === "uwsgi-enabled") return name.endsWith(".ini");
    return true;
  };
  const watchDir = (dir: string): void => {
    if (watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (matters(dir, name)) notify();
      });
      watcher.on("error", () => {
        watcher.close();
        watchers.delete(dir);
      });
      watchers.set(dir, watcher);
    } catch (error) {
      // Missing (no such app folder yet), or out of inotify watches: the periodic scan still sees it.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") logger.debug(`cannot watch ${dir} for changes (${code ?? String(error)}): seen at the next full scan`);
    }
  };
  const rearm = async (): Promise<void> => {
    const apps = await listApps(hop3Root).catch(() => []);
    const wanted = new Set([path.join(hop3Root, "uwsgi-enabled"), path.join(hop3Root, "apps"), ...apps.map((app) => path.join(hop3Root, "apps", app, "venv"))]);
    for (const [dir, watcher] of watchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      watchers.delete(dir);
    }
    for (const dir of wanted) watchDir(dir);
  };
  void rearm();
  return {
    close() {
      clearTimeout(pending);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
