// The log: one JSON object per line ({"level","time","name",...fields,"msg"}, as pino writes
// them, so that log shippers read it as they would pino's), written synchronously to stdout or
// stderr; on a terminal, one readable line per entry instead. Small on purpose: a logging
// library cost `status` 40 ms of start-up for what these lines do.

import { writeSync } from "node:fs";
import type { Redactor } from "../health/redact.js";

export type LogFields = Record<string, unknown>;

export interface LogMethod {
  (message: string): void;
  (fields: LogFields, message?: string): void;
}

export const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type Level = (typeof LEVELS)[number];

export type Logger = Record<Level, LogMethod> & {
  /** The lowest level written, or "silent". */
  readonly level: string;
};

export interface LoggerOptions {
  level: string;
  /** 1 stdout, 2 stderr. */
  fd: 1 | 2;
  /** Instead of fd: any stream (tests read the log from one). */
  stream?: NodeJS.WritableStream;
  /** One readable line per entry (for a terminal) instead of JSON. */
  pretty?: boolean;
  redact?: Redactor;
}

const COLOURS: Record<Level, string> = { fatal: "\x1b[35m", error: "\x1b[31m", warn: "\x1b[33m", info: "\x1b[32m", debug: "\x1b[90m", trace: "\x1b[90m" };

export function createLogger(options: LoggerOptions): Logger {
  const threshold = options.level === "silent" ? LEVELS.length : Math.max(0, LEVELS.indexOf(options.level as Level));
  const write = options.stream ? (line: string) => void options.stream!.write(line) : (line: string) => writeAll(options.fd, line);
  // A last line of defence: whatever a plugin logs, a configured secret does not reach the log.
  const redact = options.redact ?? ((line: string) => line);
  const format = options.pretty ? prettyLine(process.env) : jsonLine;
  const method = (level: Level, rank: number): LogMethod => (first: LogFields | string, message?: string) => {
    if (rank < threshold) return;
    const [fields, msg] = typeof first === "string" ? [{}, first] : [first, message];
    write(redact(format(level, new Date(), fields, msg)));
  };
  const logger = { level: options.level } as { -readonly [K in keyof Logger]: Logger[K] };
  LEVELS.forEach((level, rank) => (logger[level] = method(level, rank)));
  return logger;
}

function jsonLine(level: Level, time: Date, fields: LogFields, msg: string | undefined): string {
  return `${JSON.stringify({ level, time: time.toISOString(), name: "hop3-health", ...fields, ...(msg !== undefined ? { msg } : {}) }, jsonSafe)}\n`;
}

/** "07:31:28 INFO  message key=value", for a person at a terminal. */
function prettyLine(env: NodeJS.ProcessEnv): typeof jsonLine {
  const plain = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  const paint = (code: string, text: string): string => (plain ? text : `${code}${text}\x1b[0m`);
  return (level, time, fields, msg) => {
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, jsonSafe)}`)
      .join(" ");
    return `${time.toISOString().slice(11, 19)} ${paint(COLOURS[level], level.toUpperCase().padEnd(5))} ${msg ?? ""}${extra ? ` ${paint("\x1b[90m", extra)}` : ""}\n`;
  };
}

/** Errors as their message and type (JSON.stringify would give {}), bigints as numbers. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message };
  if (typeof value === "bigint") return Number(value);
  return value;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, line: string): void {
  const bytes = Buffer.from(line);
  for (let offset = 0, waits = 0; offset < bytes.length; ) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      // A full non-blocking pipe: a millisecond's wait and again, for up to a second. Anything
      // else (a reader that went away) drops the line rather than the exporter.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || ++waits > 1000) return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
