// The last beat of every job that reports in (POST /api/v1/heartbeats/<id>), kept in a small JSON
// file beside the event log so that a restart forgets none, and `status` reads the same file. For
// each id, also when it was first watched, so that "never reported in" can be told from "not yet";
// and for a job on a cron schedule, the run by which its next beat is due (the first run after its
// last beat, as healthchecks.io reckons it), kept with the schedule it was computed for.

import type { Beat, Beats, HeartbeatSetting } from "../health/model.js";
import type { Redactor } from "../health/redact.js";
import { calendar } from "./calendar.js";
import { oneLineOf, readStateFile, writeJsonAtomic } from "./state-file.js";

interface Due {
  /** The schedule and time zone it was computed for. */
  schedule: string;
  at: string;
}

interface Saved {
  beats: Record<string, Beat>;
  watched: Record<string, string>;
  due: Record<string, Due>;
}

const scheduleKey = (setting: HeartbeatSetting): string | undefined => (setting.schedule === undefined ? undefined : `${setting.schedule} ${setting.tz ?? "UTC"}`);

/** Grace after a beat is due: as configured, else a tenth of the period, at least a minute (and, on a schedule, at most an hour). */
export function graceOf(setting: HeartbeatSetting): number {
  if (setting.grace !== undefined) return setting.grace;
  if (setting.every !== undefined) return Math.max(60, setting.every / 10);
  const [a, b] = calendar(setting.schedule!, setting.tz).nextRuns(2);
  return a && b ? Math.min(3600, Math.max(60, (b.getTime() - a.getTime()) / 10_000)) : 3600;
}

/** The first run of a job's schedule from now on. */
function nextRun(setting: HeartbeatSetting): Due | undefined {
  const key = scheduleKey(setting);
  const [next] = key === undefined ? [] : calendar(setting.schedule!, setting.tz).nextRuns(1);
  return key !== undefined && next ? { schedule: key, at: next.toISOString() } : undefined;
}

/** What a job may say about itself: this much, on one line. */
const MAX_MESSAGE = 500;
const MAX_FILE = 1 << 20;

export class HeartbeatStore implements Beats {
  private saved: Saved = { beats: {}, watched: {}, due: {} };
  private settings: Record<string, HeartbeatSetting> = {};
  /** Why the file could not be read, if it could not (another user's, say). */
  problem: string | undefined;

  constructor(
    readonly file: string,
    private readonly redact: Redactor,
  ) {}

  /** Reads the file; a missing one is an empty store, an unreadable one a problem the checks report. */
  load(settings: Record<string, HeartbeatSetting>): void {
    this.settings = settings;
    const ids = Object.keys(settings);
    // No job configured: no file to read (status runs often, and most servers have none).
    if (ids.length === 0) return;
    try {
      const text = readStateFile(this.file, MAX_FILE);
      const parsed = JSON.parse(text) as Partial<Saved>;
      this.saved = { beats: { ...parsed.beats }, watched: { ...parsed.watched }, due: { ...parsed.due } };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") this.problem = `heartbeats file ${this.file} cannot be read (${code ?? "not JSON"})`;
    }
    // Ids no longer configured are forgotten; new ones are watched from now.
    const now = new Date().toISOString();
    const { beats, watched, due } = this.saved;
    this.saved = {
      beats: Object.fromEntries(Object.entries(beats).filter(([id]) => ids.includes(id))),
      watched: Object.fromEntries(ids.map((id) => [id, watched[id] ?? now])),
      // A schedule met for the first time, or changed since: its next run is reckoned from now.
      due: Object.fromEntries(
        Object.entries(settings).flatMap(([id, setting]) => {
          const kept = due[id];
          const next = kept && kept.schedule === scheduleKey(setting) && typeof kept.at === "string" ? kept : nextRun(setting);
          return next ? [[id, next]] : [];
        }),
      ),
    };
  }

  dueBy(id: string): Date | undefined {
    const due = this.saved.due[id];
    return due && new Date(due.at);
  }

  last(id: string): Beat | undefined {
    return this.saved.beats[id];
  }

  watchedSince(id: string): Date {
    return new Date(this.saved.watched[id] ?? Date.now());
  }

  /** A beat, written through at once (to a temporary file, then renamed over the old one). */
  record(id: string, ok: boolean, message: string | undefined): Beat {
    const said = message === undefined ? undefined : oneLineOf(this.redact(message), MAX_MESSAGE);
    const beat: Beat = { at: new Date().toISOString(), ok, ...(said ? { message: said } : {}) };
    this.saved.beats[id] = beat;
    const setting = this.settings[id];
    const next = setting && nextRun(setting);
    if (next) this.saved.due[id] = next;
    try {
      this.save();
    } catch {
      // Kept in memory; serve said at start that the file cannot be written.
    }
    return beat;
  }

  /** Writes the file now (serve does at start, so that "watched since" outlives a restart). */
  persist(): void {
    this.save();
  }

  private save(): void {
    writeJsonAtomic(this.file, this.saved, 0o600);
  }
}
