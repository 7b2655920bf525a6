// The event log: one JSON line per severity change (and per deploy verdict), appended to a file
// so it survives restarts. At start it is read back for the last known severities, so that a
// restart does not invent transitions; a torn line (a crash mid-write) is skipped with a warning.

import { createReadStream } from "node:fs";
import { appendFile, open } from "node:fs/promises";
import readline from "node:readline";
import { isSeverity, type Severity } from "../health/model.js";
import type { Logger } from "../lib/logger.js";

export interface HealthEvent {
  time: string;
  /** "transition" for a severity change; "probe" for a deploy-probe verdict. */
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
  /** "transition" or "probe". */
  kind?: string;
  /** The newest this many matching events (still oldest first). */
  limit: number;
}

/** Kept in memory when the file cannot be written, so the API still answers. */
const MEMORY_LIMIT = 10_000;

export class EventLog {
  private writable = true;
  private readonly memory: HealthEvent[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly logger: Logger,
  ) {}

  /** Reads the log back: the last severity of every check. Never fails: a bad log is a warning. */
  async open(): Promise<Map<string, Severity>> {
    const severities = new Map<string, Severity>();
    let events: HealthEvent[] = [];
    try {
      events = await this.readAll(true);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") this.logger.warn({ file: this.file }, `event log ${this.file} cannot be read (${code ?? String(error)}); starting without history`);
    }
    for (const event of events) {
      if (event.kind === "transition" && isSeverity(event.to)) severities.set(event.check, event.to);
    }
    await this.terminateTornLine();
    return severities;
  }

  append(events: HealthEvent[]): Promise<void> {
    if (events.length === 0) return this.writing;
    this.memory.push(...events);
    if (this.memory.length > MEMORY_LIMIT) this.memory.splice(0, this.memory.length - MEMORY_LIMIT);
    const text = events.map((e) => `${JSON.stringify(e)}\n`).join("");
    this.writing = this.writing.then(async () => {
      if (!this.writable) return;
      try {
        await appendFile(this.file, text, { mode: 0o640 });
      } catch (error) {
        this.writable = false;
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        this.logger.warn({ file: this.file }, `event log ${this.file} cannot be written (${code}); events are kept in memory only`);
      }
    });
    return this.writing;
  }

  async query(query: EventQuery): Promise<HealthEvent[]> {
    await this.writing;
    let events: HealthEvent[];
    try {
      events = this.writable ? await this.readAll(false) : this.memory;
    } catch {
      events = this.memory;
    }
    const since = query.since?.getTime();
    const matching = events.filter(
      (e) =>
        (query.check === undefined || e.check === query.check) &&
        (query.kind === undefined || e.kind === query.kind) &&
        (since === undefined || Date.parse(e.time) >= since),
    );
    return matching.slice(-query.limit);
  }

  private async readAll(warn: boolean): Promise<HealthEvent[]> {
    const events: HealthEvent[] = [];
    const lines = readline.createInterface({ input: createReadStream(this.file, "utf8"), crlfDelay: Infinity });
    let number = 0;
    for await (const line of lines) {
      number++;
      if (line.trim() === "") continue;
      try {
        const event = JSON.parse(line) as HealthEvent;
        if (typeof event.check === "string" && typeof event.time === "string") events.push(event);
        else throw new Error("not an event");
      } catch {
        if (warn) this.logger.warn({ file: this.file, line: number }, `event log ${this.file}: line ${number} is not a complete event (torn by a crash?); skipped`);
      }
    }
    return events;
  }

  /** A torn last line has no newline: end it, so the next event starts on a line of its own. */
  private async terminateTornLine(): Promise<void> {
    let handle;
    try {
      handle = await open(this.file, "r");
      const { size } = await handle.stat();
      if (size === 0) return;
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await appendFile(this.file, "\n");
    } catch {
      // No file yet, or not readable: nothing to mend.
    } finally {
      await handle?.close();
    }
  }
}
