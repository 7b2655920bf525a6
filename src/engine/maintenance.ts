// Maintenance windows: while one is open for a check (or an app, as app:<name>), the check still
// runs and shows, marked, hop3_health_maintenance{check} is 1, and the shipped alert rules do not
// page for it. Windows are kept in a small JSON file beside the event log, so that they outlive a
// restart and `hop3-health maintenance` can open one with or without a running exporter; they end
// by themselves. The exporter reads the file again when it changes.

import { readFileSync, statSync } from "node:fs";
import { oneLineOf, writeJsonAtomic } from "./state-file.js";

export interface Window {
  check: string;
  /** ISO 8601: the window ends by itself then. */
  until: string;
  reason: string;
  started: string;
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
      const text = readFileSync(this.file, "utf8");
      const parsed = text.length > MAX_FILE ? {} : (JSON.parse(text) as { windows?: unknown });
      this.windows = Array.isArray(parsed.windows) ? (parsed.windows as Window[]).filter((w) => typeof w.check === "string" && typeof w.until === "string") : [];
      this.readMtime = mtime;
    } catch {
      // Torn or unreadable: the windows known stay until it can be read.
    }
  }

  private save(): void {
    writeJsonAtomic(this.file, { windows: this.windows }, 0o644);
    this.readMtime = statSync(this.file).mtimeMs;
  }
}
