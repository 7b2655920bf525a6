// The event log: one JSON line per severity change, app state change and deploy verdict, appended
// to a file so it survives restarts. Bounded everywhere: the file is rotated by size (keeping a few
// old ones), each new file starts with a snapshot of every check's severity, at start only the
// tail of the file is read, and the API answers from a bounded tail kept in memory. Everything is
// redacted before it is written or kept.

import { rename, rm } from "node:fs/promises";
import { isSeverity, type Severity } from "../health/model.js";
import { redactDeep, type Redactor } from "../health/redact.js";
import type { Logger } from "../lib/logger.js";
import { openLog } from "./state-file.js";

/** Appends to the log, never through a link and only to a regular file. */
async function appendText(file: string, text: string): Promise<void> {
  const handle = await openLog(file, "append");
  try {
    await handle.write(text);
  } finally {
    await handle.close();
  }
}

export interface HealthEvent {
  time: string;
  /** "transition" for a severity change, "probe" for a deploy-probe verdict, "app-state" for a scan's finding. */
  kind: string;
  check: string;
  from?: Severity | null;
  to?: Severity;
  message: string;
  [key: string]: unknown;
}

export interface EventQuery {
  since?: Date;
  check?: string;
  /** "transition", "probe" or "app-state". */
  kind?: string;
  /** The newest this many matching events (still oldest first). */
  limit: number;
}

export interface EventLogOptions {
  /** Rotate once the file is larger than this. */
  maxBytes: number;
  /** Rotated files kept: file.1 … file.N. */
  keep: number;
  /** Events kept in memory for the API. */
  memory: number;
  redact: Redactor;
}

export const EVENT_LOG_DEFAULTS = { maxBytes: 10 * 1024 * 1024, keep: 3, memory: 10_000 } as const;

/** The first line of each file: where every check stood when it was started. */
const SNAPSHOT = "snapshot";

export class EventLog {
  private writable = true;
  private readonly memory: HealthEvent[] = [];
  private writing: Promise<void> = Promise.resolve();
  private size = 0;
  /** The last severity of every check, kept for the snapshot that starts each file. */
  private readonly severities = new Map<string, Severity>();
  /** The snapshot that starts the current file, when it was read or written: where every check stood then. */
  private origin: { time: string; severities: Record<string, Severity> } | null = null;
  /** Whether older events than the first kept in memory were dropped (or not read). */
  private trimmed = false;
  private readonly options: EventLogOptions;

  constructor(
    readonly file: string,
    private readonly logger: Logger,
    options: Partial<EventLogOptions> = {},
  ) {
    this.options = { ...EVENT_LOG_DEFAULTS, redact: (t) => t, ...options };
  }

  /** Reads back the tail of the log: the last severity of every check. Never fails: a bad log is a warning. */
  async open(): Promise<Map<string, Severity>> {
    return this.load(true);
  }

  /** Reads the tail of the log, for its history, and changes nothing of it (another process writes it). */
  async read(): Promise<void> {
    await this.load(false);
  }

  private async load(owned: boolean): Promise<Map<string, Severity>> {
    let lines: string[] = [];
    let partial = false;
    try {
      const tail = await this.readTail();
      this.size = tail.size;
      lines = tail.lines;
      partial = tail.partial;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") this.logger.warn({ file: this.file }, `event log ${this.file} cannot be read (${code ?? String(error)}); starting without history`);
    }
    lines.forEach((line, index) => {
      if (line.trim() === "") return;
      let event: HealthEvent;
      try {
        event = JSON.parse(line) as HealthEvent;
        if (typeof event.check !== "string" || typeof event.time !== "string") throw new Error("not an event");
      } catch {
        const where = partial ? `line ${index + 1} of its last ${this.options.maxBytes} bytes` : `line ${index + 1}`;
        this.logger.warn({ file: this.file, line: index + 1 }, `event log ${this.file}: ${where} is not a complete event (torn by a crash?); skipped`);
        return;
      }
      if (event.kind === SNAPSHOT) {
        const severities: Record<string, Severity> = {};
        for (const [check, severity] of Object.entries(event.severities ?? {})) {
          if (!isSeverity(severity)) continue;
          this.severities.set(check, severity);
          severities[check] = severity;
        }
        this.origin = { time: event.time, severities };
        return;
      }
      if (event.kind === "transition" && isSeverity(event.to)) this.severities.set(event.check, event.to);
      this.remember(event);
    });
    if (partial) this.trimmed = true;
    if (!owned) return new Map(this.severities);
    // A torn last line has no newline: end it, so the next event starts on a line of its own.
    if (lines.length > 0 && lines.at(-1) !== "") {
      await appendText(this.file, "\n").then(
        () => (this.size += 1),
        () => undefined, // not writable: append() says so when it comes to it
      );
    }
    if (this.size > this.options.maxBytes) await this.rotate();
    return new Map(this.severities);
  }

  append(events: HealthEvent[]): Promise<void> {
    if (events.length === 0) return this.writing;
    const clean = events.map((e) => redactDeep(e, this.options.redact));
    for (const event of clean) {
      if (event.kind === "transition" && isSeverity(event.to)) this.severities.set(event.check, event.to);
      this.remember(event);
    }
    const text = clean.map((e) => `${JSON.stringify(e)}\n`).join("");
    this.writing = this.writing.then(async () => {
      if (!this.writable) return;
      try {
        await appendText(this.file, text);
        this.size += Buffer.byteLength(text);
        if (this.size > this.options.maxBytes) await this.rotate();
      } catch (error) {
        this.writable = false;
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        this.logger.warn({ file: this.file }, `event log ${this.file} cannot be written (${code}); events are kept in memory only`);
      }
    });
    return this.writing;
  }

  /** The newest matching events, from the tail kept in memory. */
  async query(query: EventQuery): Promise<HealthEvent[]> {
    await this.writing;
    const since = query.since?.getTime();
    const matching: HealthEvent[] = [];
    for (let i = this.memory.length - 1; i >= 0 && matching.length < query.limit; i--) {
      const e = this.memory[i]!;
      if (since !== undefined && Date.parse(e.time) < since) break;
      if ((query.check === undefined || e.check === query.check) && (query.kind === undefined || e.kind === query.kind)) matching.push(e);
    }
    return matching.reverse();
  }

  /**
   * What the history of the checks is computed from: the events kept in memory (oldest first), the
   * snapshot that starts the file they come from, and whether older ones were dropped.
   */
  recent(): { events: readonly HealthEvent[]; origin: { time: string; severities: Record<string, Severity> } | null; trimmed: boolean } {
    return { events: this.memory, origin: this.origin, trimmed: this.trimmed };
  }

  private remember(event: HealthEvent): void {
    this.memory.push(event);
    // Trimmed in batches, so that keeping the tail costs nothing per event.
    if (this.memory.length > this.options.memory * 1.25) {
      this.memory.splice(0, this.memory.length - this.options.memory);
      this.trimmed = true;
    }
  }

  /** file → file.1 → … → file.N (the oldest dropped); the new file starts with a snapshot. */
  private async rotate(): Promise<void> {
    await rm(`${this.file}.${this.options.keep}`, { force: true });
    for (let n = this.options.keep - 1; n >= 1; n--) await rename(`${this.file}.${n}`, `${this.file}.${n + 1}`).catch(() => undefined);
    if (this.options.keep > 0) await rename(this.file, `${this.file}.1`).catch(() => undefined);
    else await rm(this.file, { force: true });
    const snapshot = {
      time: new Date().toISOString(),
      kind: SNAPSHOT,
      check: "*",
      message: "severities when this file was started",
      severities: Object.fromEntries(this.severities),
    };
    const text = `${JSON.stringify(snapshot)}\n`;
    await appendText(this.file, text);
    this.origin = { time: snapshot.time, severities: { ...snapshot.severities } };
    this.size = Buffer.byteLength(text);
  }

  /** The last lines of the file, at most maxBytes of them: a huge log is not read whole. */
  private async readTail(): Promise<{ lines: string[]; size: number; partial: boolean }> {
    const handle = await openLog(this.file, "read");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, this.options.maxBytes);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      let text = buffer.toString("utf8");
      // Started mid-line: that line is not whole.
      if (length < size) text = text.slice(text.indexOf("\n") + 1);
      return { lines: text.split("\n"), size, partial: length < size };
    } finally {
      await handle.close();
    }
  }
}
