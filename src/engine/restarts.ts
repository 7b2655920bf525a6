// Restart policies (ADR 029's last piece): a crashed app comes back by itself, never flaps
// forever, and every restart is on record. Opt-in: `never` unless [restart] policy or
// [apps.<name>] restart says otherwise.
//
// - `on-failure`: an app whose vassal is enabled and whose check fails (not running, nothing on its
//   port, an unhealthy answer, no answer) for `failures_before_restart` checks in a row.
// - `always`: that, and also an app uWSGI keeps respawning in vain (a crash loop).
// Never: an app stopped by Hop3 (no vassal enabled), in maintenance or in its deploy window, or
// failing for a reason a restart cannot mend (its manifest, permissions).
//
// A restart is what Hop3 does: touch the app's enabled vassal files (uwsgi-enabled/<app>_*.ini,
// regular files only, never through a link), so the Emperor reloads them; or run [restart]
// command (an argv list, no shell, "{app}" replaced). The next one waits `backoff_initial`,
// doubling up to `backoff_max`; at most `max_restarts` in `window`, then the policy gives up on the
// app (reason gave_up) until it has been healthy for `window` or an operator says
// `hop3-health restarts reset <app>`. A restart's outcome is judged: recovered as soon as the app
// answers well (a few seconds after the restart), still failing when its delay has passed (the
// next try follows), or gave up at the cap. Once the app has stayed healthy for
// `backoff_max`, the backoff starts over.

import { execFile } from "node:child_process";
import { closeSync, constants, fstatSync, futimesSync, openSync, readdirSync, unlinkSync, writeSync } from "node:fs";
import { readProcFileSync } from "../hop3/processes.js";
import { readStateFile } from "./state-file.js";
import path from "node:path";
import type { Config } from "../config/schema.js";
import type { CheckOutcome } from "../health/outcome.js";
import type { Logger } from "../lib/logger.js";
import { appOfVassalFile } from "../hop3/emperor.js";
import type { HealthEvent } from "./events.js";
import { noteRestartTouch } from "./reconcile.js";

export type RestartPolicyName = "never" | "on-failure" | "always";
export type RestartResult = "recovered" | "failing" | "gave_up";
type Settings = Config["restart"];

/** What the policy did about an app: the report's `restarts`, the status page's line. */
export interface RestartView {
  policy: RestartPolicyName;
  /** Restarts within the window. */
  restarts: number;
  /** Seconds until the next try, when one is due. */
  next_in_seconds?: number;
  gave_up: boolean;
  dry_run: boolean;
}

interface AppRestarts {
  failures: number;
  /** When each restart within the window was made (ms). */
  made: number[];
  /** The next restart's delay, seconds. */
  delay: number;
  /** No restart before this (ms). */
  nextAt: number;
  /** A restart whose outcome is not judged yet. */
  pending?: { at: number; attempt: number; reason: string; judgeAt: number };
  gaveUp?: { at: number; message: string };
  healthySince?: number;
  totals: Record<RestartResult, number>;
}

/** A healthy answer this long after a restart is the restarted app's, not the old process's. */
const SETTLE_MS = 3000;

/** Reasons a restart does not mend: the app's own configuration, or what hop3-health may read. */
const NOT_MENDED = new Set(["config", "permission", "gave_up"]);

/** Seconds until the next try, while the app is failing and one is due. */
function nextIn(s: AppRestarts, now: number): number | undefined {
  return s.failures > 0 && !s.gaveUp && s.nextAt > now ? (s.nextAt - now) / 1000 : undefined;
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? "" : "s"}`;

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

/**
 * Touches the app's enabled vassal files, as Hop3 restarts an app: regular files in uwsgi-enabled
 * whose name is the app's (`<app>_<kind>.<n>.ini`), opened without following a link. Returns how many.
 */
export function touchVassals(hop3Root: string, app: string, apps: readonly string[]): number {
  const dir = path.join(hop3Root, "uwsgi-enabled");
  let touched = 0;
  for (const name of readdirSync(dir)) {
    if (appOfVassalFile(name, apps)?.app !== app) continue;
    let fd: number;
    try {
      fd = openSync(path.join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      continue; // a link (ELOOP), or gone
    }
    try {
      if (!fstatSync(fd).isFile()) continue;
      const now = new Date();
      futimesSync(fd, now, now);
      touched++;
    } finally {
      closeSync(fd);
    }
  }
  return touched;
}

/** One exporter per state directory acts; another only observes. A lock file holding the pid, taken with O_EXCL. */
export function takeRestartLock(file: string): { held: true; release(): void } | { held: false; holder: number } {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        held: true,
        release: () => {
          try {
            if (Number(readStateFile(file, 64).trim()) === process.pid) unlinkSync(file);
          } catch {
            // gone already
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder = NaN;
    try {
      holder = Number(readStateFile(file, 64).trim());
    } catch {
      holder = NaN;
    }
    // Held by a live hop3-health (not by whatever process took the pid since, after a reboot say).
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && (readProcFileSync(`/proc/${holder}/cmdline`, 4096) ?? "").includes("hop3-health")) {
      return { held: false, holder };
    }
    // Left by an exporter that is gone: taken over.
    unlinkSync(file);
  }
  throw new Error(`restart lock ${file} could not be taken`);
}

export interface RestartOptions {
  settings: Settings;
  /** [apps.<name>] restart. */
  perApp: (app: string) => RestartPolicyName | undefined;
  hop3Root: string;
  logger: Logger;
  /** Whether this exporter acts (it holds the lock) or only observes. */
  acts: boolean;
  /** Every app there is, to tell `<app>_` vassal names apart. */
  apps: () => Promise<string[]>;
  /** Events to append to the event log. */
  record(events: HealthEvent[]): void;
  /** Asks for the app's check to run again (when a try falls due, or a restart's outcome is to be judged). */
  recheck(app: string): void;
}

export class RestartPolicies {
  private readonly apps = new Map<string, AppRestarts>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private options: RestartOptions) {}

  /** A reload: new settings, the state kept. */
  update(options: RestartOptions): void {
    this.options = options;
  }

  policyOf(app: string): RestartPolicyName {
    return this.options.perApp(app) ?? this.options.settings.policy;
  }

  /** Whether any app may be restarted (else nothing is watched). */
  get active(): boolean {
    return this.options.settings.policy !== "never" || this.apps.size > 0;
  }

  /** Totals by result, whether it gave up, when the next try is due: for /metrics. */
  series(): Array<{ app: string; totals: Record<RestartResult, number>; gaveUp: boolean; nextInSeconds?: number }> {
    const now = Date.now();
    return [...this.apps].map(([app, s]) => {
      const next = nextIn(s, now);
      return { app, totals: s.totals, gaveUp: s.gaveUp !== undefined, ...(next !== undefined ? { nextInSeconds: next } : {}) };
    });
  }

  view(app: string): RestartView | undefined {
    const s = this.apps.get(app);
    const policy = this.policyOf(app);
    if (!s || policy === "never") return undefined;
    const now = Date.now();
    const next = nextIn(s, now);
    return {
      policy,
      restarts: this.within(s, now).length,
      ...(next !== undefined ? { next_in_seconds: Math.round(next) } : {}),
      gave_up: s.gaveUp !== undefined,
      dry_run: this.options.settings.dry_run,
    };
  }

  /** `restarts reset <app>`: the policy acts again, from a fresh backoff. False when there was nothing to reset. */
  reset(app: string): boolean {
    const s = this.apps.get(app);
    if (!s) return false;
    const wasGivenUp = s.gaveUp !== undefined;
    this.apps.set(app, { ...this.fresh(), totals: s.totals });
    this.options.logger.info({ app }, `restart policy of ${app} reset by the operator${wasGivenUp ? ": it acts again" : ""}`);
    this.options.record([{ time: new Date().toISOString(), kind: "restart", check: `app:${app}`, app, policy: this.policyOf(app), state: "reset", message: "reset by the operator" }]);
    this.options.recheck(app);
    return true;
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private fresh(): AppRestarts {
    return { failures: 0, made: [], delay: this.options.settings.backoff_initial, nextAt: 0, totals: { recovered: 0, failing: 0, gave_up: 0 } };
  }

  private within(s: AppRestarts, now: number): number[] {
    s.made = s.made.filter((t) => now - t < this.options.settings.window * 1000);
    return s.made;
  }

  private wake(app: string, at: number): void {
    clearTimeout(this.timers.get(app));
    const timer = setTimeout(() => {
      this.timers.delete(app);
      this.options.recheck(app);
    }, Math.max(0, at - Date.now()) + 50);
    timer.unref();
    this.timers.set(app, timer);
  }

  /**
   * Looks at the apps' outcomes of a cycle or a re-check: counts failures in a row, restarts what
   * is due, judges earlier restarts, and writes what the policy did into each outcome (its detail,
   * `details.restarts`, and reason `gave_up` once it gave up).
   */
  async observe(outcomes: Iterable<CheckOutcome>, inMaintenance: (check: string) => boolean): Promise<void> {
    const now = Date.now();
    const { settings, logger } = this.options;
    for (const outcome of outcomes) {
      if (!outcome.check.startsWith("app:")) continue;
      const app = outcome.check.slice(4);
      const policy = this.policyOf(app);
      if (policy === "never") {
        this.apps.delete(app);
        continue;
      }
      let s = this.apps.get(app);
      if (!s) this.apps.set(app, (s = this.fresh()));
      const state = typeof outcome.details.state === "string" ? outcome.details.state : "running";
      // Stopped by Hop3 (no vassal enabled), deploying, or in maintenance: left alone.
      if (state === "stopped" || state === "deploying" || inMaintenance(outcome.check) || outcome.maintenance !== undefined) {
        s.failures = 0;
        this.annotate(outcome, app, s);
        continue;
      }
      const reason = typeof outcome.details.reason === "string" ? outcome.details.reason : (outcome.reason ?? "error");
      const failing = outcome.severity === "fail" && !NOT_MENDED.has(reason) && (reason !== "crash_loop" || policy === "always");
      if (outcome.severity === "ok") {
        s.failures = 0;
        s.healthySince ??= now;
        // Healthy after a restart (once the Emperor had a moment to reload it): recovered, without waiting out the delay.
        if (s.pending && now - s.pending.at >= Math.min(s.pending.judgeAt - s.pending.at, SETTLE_MS)) this.judge(app, s, "recovered", outcome, now);
        if (now - s.healthySince >= settings.backoff_max * 1000) s.delay = settings.backoff_initial;
        if (s.gaveUp && now - s.healthySince >= settings.window * 1000) {
          s.gaveUp = undefined;
          logger.info({ app }, `${app} has been healthy for ${duration(settings.window)}: its restart policy acts again`);
        }
        this.annotate(outcome, app, s);
        continue;
      }
      if (!failing) {
        this.annotate(outcome, app, s);
        continue;
      }
      s.healthySince = undefined;
      s.failures++;
      if (s.pending) {
        if (now < s.pending.judgeAt) {
          this.annotate(outcome, app, s);
          continue;
        }
        const capped = this.within(s, now).length >= settings.max_restarts;
        this.judge(app, s, capped ? "gave_up" : "failing", outcome, now);
      }
      // Not failing long enough yet: looked at again after backoff_initial, not only at the next cycle.
      if (!s.gaveUp && s.failures < settings.failures_before_restart) this.wake(app, now + settings.backoff_initial * 1000);
      if (!s.gaveUp && s.failures >= settings.failures_before_restart) {
        if (this.within(s, now).length >= settings.max_restarts) {
          this.giveUp(app, s, outcome, now);
        } else if (now >= s.nextAt) {
          await this.restart(app, s, policy, outcome, reason, now);
        } else {
          this.wake(app, s.nextAt);
        }
      }
      this.annotate(outcome, app, s);
    }
  }

  private giveUp(app: string, s: AppRestarts, outcome: CheckOutcome, now: number): void {
    const { settings } = this.options;
    const message = `gave up after ${plural(this.within(s, now).length, "restart")} in ${duration(settings.window)}: last failure ${outcome.detail}`;
    s.gaveUp = { at: now, message };
    this.options.logger.error({ app }, `${app}: restart policy ${message}; hop3-health restarts reset ${app} to try again`);
  }

  /** A restart's outcome: counted, logged, recorded. */
  private judge(app: string, s: AppRestarts, result: RestartResult, outcome: CheckOutcome, now: number): void {
    const pending = s.pending!;
    s.pending = undefined;
    s.totals[result]++;
    if (result === "gave_up") this.giveUp(app, s, outcome, now);
    const message =
      result === "recovered"
        ? `recovered after restart ${pending.attempt}`
        : result === "failing"
          ? `still failing after restart ${pending.attempt}: ${outcome.detail}`
          : s.gaveUp!.message;
    if (result === "recovered") this.options.logger.info({ app, attempt: pending.attempt }, `${app}: ${message}`);
    else if (result === "failing") this.options.logger.warn({ app, attempt: pending.attempt }, `${app}: ${message}`);
    this.options.record([
      { time: new Date(now).toISOString(), kind: "restart", check: `app:${app}`, app, policy: this.policyOf(app), attempt: pending.attempt, reason: pending.reason, result, ...(this.options.settings.dry_run ? { dry_run: true } : {}), message },
    ]);
  }

  private async restart(app: string, s: AppRestarts, policy: RestartPolicyName, outcome: CheckOutcome, reason: string, now: number): Promise<void> {
    const { settings, logger } = this.options;
    if (!this.options.acts) return;
    const attempt = this.within(s, now).length + 1;
    const delay = s.delay;
    s.made.push(now);
    s.nextAt = now + delay * 1000;
    s.delay = Math.min(delay * 2, settings.backoff_max);
    s.pending = { at: now, attempt, reason, judgeAt: s.nextAt };
    let action: string;
    if (settings.dry_run) {
      action = "dry run: nothing done";
    } else if (settings.command) {
      action = await this.runCommand(app);
    } else {
      try {
        const apps = await this.options.apps();
        noteRestartTouch(app);
        const touched = touchVassals(this.options.hop3Root, app, apps);
        action = touched > 0 ? `touched ${plural(touched, "vassal file")} in uwsgi-enabled` : "no vassal file of the app to touch in uwsgi-enabled";
      } catch (error) {
        action = `uwsgi-enabled cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
      }
    }
    const message = `restart ${attempt} of at most ${settings.max_restarts} by policy ${policy} (${outcome.detail}); ${action}; next try in ${duration(delay)}`;
    logger.warn({ app, attempt, policy, dry_run: settings.dry_run }, `${app}: ${message}`);
    this.options.record([
      { time: new Date(now).toISOString(), kind: "restart", check: `app:${app}`, app, policy, attempt, reason, next_delay_seconds: delay, state: "restarted", ...(settings.dry_run ? { dry_run: true } : {}), message },
    ]);
    this.wake(app, s.nextAt);
  }

  private runCommand(app: string): Promise<string> {
    const [file, ...args] = this.options.settings.command!.map((part) => part.replaceAll("{app}", app));
    return new Promise((resolve) => {
      execFile(file!, args, { timeout: 60_000, maxBuffer: 64 * 1024 }, (error) => {
        resolve(error ? `${file} failed (${error.code ?? error.signal ?? error.message})` : `ran ${file}`);
      });
    });
  }

  /** The report says what the policy did: "— restarted 2× by policy, next try in 40 s", or that it gave up. */
  private annotate(outcome: CheckOutcome, app: string, s: AppRestarts): void {
    const view = this.view(app);
    if (!view) return;
    outcome.details.restarts = view;
    if (s.gaveUp && outcome.severity === "fail") {
      outcome.reason = "gave_up";
      outcome.details.reason = "gave_up";
      outcome.detail = s.gaveUp.message;
      return;
    }
    if (outcome.severity === "ok") return;
    const restarted = view.restarts > 0 ? `restarted ${view.restarts}× by policy` : "";
    const next = view.next_in_seconds !== undefined ? `next try in ${duration(view.next_in_seconds)}` : "";
    const said = [restarted, next].filter(Boolean).join(", ");
    if (said) outcome.detail = `${outcome.detail} — ${said}${view.dry_run ? " (dry run)" : ""}`;
  }
}
