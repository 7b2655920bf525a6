// The last beat of every job that reports in (POST /api/v1/heartbeats/<id>), kept in a small JSON
// file beside the event log so that a restart forgets none, and `status` reads the same file. For
// each id, also when it was first watched, so that "never reported in" can be told from "not yet".

import { readFileSync } from "node:fs";
import type { Redactor } from "../health/redact.js";
import { oneLineOf, writeJsonAtomic } from "./state-file.js";

export interface Beat {
  at: string;
  ok: boolean;
  message?: string;
}

interface Saved {
  beats: Record<string, Beat>;
  watched: Record<string, string>;
}

/** What a job may say about itself: this much, on one line. */
const MAX_MESSAGE = 500;
const MAX_FILE = 1 << 20;

export class HeartbeatStore {
  private saved: Saved = { beats: {}, watched: {} };
  /** Why the file could not be read, if it could not (another user's, say). */
  problem: string | undefined;

  constructor(
    readonly file: string,
    private readonly redact: Redactor,
  ) {}

  /** Reads the file; a missing one is an empty store, an unreadable one a problem the checks report. */
  load(ids: readonly string[]): void {
    // No job configured: no file to read (status runs often, and most servers have none).
    if (ids.length === 0) return;
    try {
      const text = readFileSync(this.file, "utf8");
      if (text.length > MAX_FILE) throw Object.assign(new Error("too large"), { code: "EFBIG" });
      const parsed = JSON.parse(text) as Partial<Saved>;
      this.saved = { beats: { ...parsed.beats }, watched: { ...parsed.watched } };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") this.problem = `heartbeats file ${this.file} cannot be read (${code ?? "not JSON"})`;
    }
    // Ids no longer configured are forgotten; new ones are watched from now.
    const now = new Date().toISOString();
    const { beats, watched } = this.saved;
    this.saved = {
      beats: Object.fromEntries(Object.entries(beats).filter(([id]) => ids.includes(id))),
      watched: Object.fromEntries(ids.map((id) => [id, watched[id] ?? now])),
    };
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
    writeJsonAtomic(this.file, this.saved, 0o640);
  }
}
