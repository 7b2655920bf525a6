// Maintenance windows: while one is open for a check (or an app, as app:<name>), the check still
// runs and shows, marked, hop3_health_maintenance{check} is 1, and the shipped alert rules do not
// page for it. Windows are kept in a small JSON file beside the event log, so that they outlive a
// restart and `hop3-health maintenance` can open one with or without a running exporter; they end
// by themselves. The exporter reads the file again when it changes.

import { statSync } from "node:fs";
import { calendar, type Calendar } from "./calendar.js";
import { oneLineOf, readStateFile, writeJsonAtomic } from "./state-file.js";

export interface Window {
  check: string;
  /** ISO 8601: the window ends by itself then. */
  until: string;
  reason: string;
  started: string;
  /** The [maintenance.<id>] it comes from, for a recurring window. */
  recurring?: string;
}

/** `[maintenance.<id>]` of the config. */
export interface RecurringSetting {
  schedule: string;
  tz?: string | undefined;
  /** Seconds. */
  duration: number;
  /** Check ids, or patterns with * and ? ("app:*"). */
  checks: string[];
  reason: string;
}

/** A recurring window as `maintenance list` and GET /api/v1/maintenance show it. */
export interface RecurringView {
  id: string;
  schedule: string;
  tz: string;
  duration_seconds: number;
  checks: string[];
  reason: string;
  /** Its next start. */
  next: string | null;
  /** While it is open: since and until when. */
  open?: { started: string; until: string };
}

/** How many runs ahead are reckoned at once: node-cron finds runs from now on only, so the past ones are remembered. */
const RUNS_AHEAD = 32;

/**
 * Recurring maintenance windows. A window is open from each run of its schedule for its
 * duration; one that began while the exporter was down is found at start by looking back over
 * its duration (minute by minute: at most a day), and from then on the runs are known ahead.
 */
export class RecurringWindows {
  private readonly known = new Map<string, { calendar: Calendar; last: number | undefined; ahead: number[] }>();

  constructor(private readonly settings: Record<string, RecurringSetting>) {}

  /** Every recurring window: open or not, and its next start. */
  view(now = Date.now()): RecurringView[] {
    return Object.entries(this.settings).map(([id, setting]) => {
      const { last, next } = this.runs(id, setting, now);
      const open = last !== undefined && last + setting.duration * 1000 > now;
      return {
        id,
        schedule: setting.schedule,
        tz: setting.tz ?? "UTC",
        duration_seconds: setting.duration,
        checks: setting.checks,
        reason: setting.reason,
        next: next === undefined ? null : new Date(next).toISOString(),
        ...(open ? { open: { started: new Date(last).toISOString(), until: new Date(last + setting.duration * 1000).toISOString() } } : {}),
      };
    });
  }

  /** The windows open now for these checks, by check. */
  openFor(checks: Iterable<string>, now = Date.now()): Map<string, Window> {
    const open = new Map<string, Window>();
    const views = this.view(now).filter((v) => v.open);
    if (views.length === 0) return open;
    for (const check of checks) {
      for (const view of views) {
        if (!view.checks.some((pattern) => matches(pattern, check))) continue;
        const window: Window = { check, until: view.open!.until, reason: view.reason || `recurring maintenance ${view.id}`, started: view.open!.started, recurring: view.id };
        const other = open.get(check);
        if (!other || other.until < window.until) open.set(check, window);
      }
    }
    return open;
  }

  /** The last start at or before now (within the duration) and the next start after now. */
  private runs(id: string, setting: RecurringSetting, now: number): { last: number | undefined; next: number | undefined } {
    let state = this.known.get(id);
    if (!state || state.ahead.length === 0 || state.ahead[state.ahead.length - 1]! <= now) {
      const cal = state?.calendar ?? calendar(setting.schedule, setting.tz);
      const passed = state?.ahead.filter((t) => t <= now).pop();
      const looked = cal.lastRunWithin(now - setting.duration * 1000, now)?.getTime();
      state = { calendar: cal, last: Math.max(passed ?? -Infinity, looked ?? -Infinity, state?.last ?? -Infinity), ahead: cal.nextRuns(RUNS_AHEAD).map((d) => d.getTime()) };
      if (!Number.isFinite(state.last)) state.last = undefined;
      this.known.set(id, state);
    }
    while (state.ahead.length > 0 && state.ahead[0]! <= now) state.last = state.ahead.shift();
    return { last: state.last, next: state.ahead[0] };
  }
}

/** A check id against a pattern of the config: * any run of characters, ? one. */
export function matches(pattern: string, check: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === check;
  // The config allows letters, digits and : . _ - besides the wildcards; . and - are escaped.
  const source = pattern.replace(/[.-]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${source}$`).test(check);
}

/** A window is at most a month: a longer one is a check to turn off, not a maintenance. */
export const MAX_WINDOW_SECONDS = 30 * 86_400;

const MAX_FILE = 1 << 20;
const MAX_REASON = 500;

export class MaintenanceStore {
  private windows: Window[] = [];
  private readMtime = -1;

  constructor(readonly file: string) {}

  /** The open windows by check, read again from the file if it changed; ended ones are left out. */
  current(now = Date.now()): Map<string, Window> {
    this.refresh();
    return new Map(this.windows.filter((w) => Date.parse(w.until) > now).map((w) => [w.check, w]));
  }

  /** Opens (or extends, or shortens) the window of a check. */
  start(check: string, seconds: number, reason: string): Window {
    this.refresh();
    const now = Date.now();
    const window: Window = { check, until: new Date(now + seconds * 1000).toISOString(), reason: oneLineOf(reason, MAX_REASON), started: new Date(now).toISOString() };
    this.windows = [...this.windows.filter((w) => w.check !== check && Date.parse(w.until) > now), window];
    this.save();
    return window;
  }

  /** Ends a check's window now; false when it had none open. */
  end(check: string): boolean {
    const open = this.current().has(check);
    this.windows = this.windows.filter((w) => w.check !== check && Date.parse(w.until) > Date.now());
    this.save();
    return open;
  }

  private refresh(): void {
    let mtime: number;
    try {
      mtime = statSync(this.file).mtimeMs;
    } catch {
      this.windows = [];
      this.readMtime = -1;
      return;
    }
    if (mtime === this.readMtime) return;
    try {
      const parsed = JSON.parse(readStateFile(this.file, MAX_FILE)) as { windows?: unknown };
      this.windows = Array.isArray(parsed.windows) ? (parsed.windows as Window[]).filter((w) => typeof w.check === "string" && typeof w.until === "string") : [];
      this.readMtime = mtime;
    } catch {
      // Torn or unreadable: the windows known stay until it can be read.
    }
  }

  private save(): void {
    writeJsonAtomic(this.file, { windows: this.windows }, 0o600);
    this.readMtime = statSync(this.file).mtimeMs;
  }
}
