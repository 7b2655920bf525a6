// pino, writing JSON lines to the given stream (stderr for commands whose stdout is the output);
// on a terminal, one readable line per entry instead.

import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import type { Redactor } from "../health/redact.js";

export type { Logger };

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

export function createLogger(options: LoggerOptions): Logger {
  const redact = options.redact;
  const destination = options.stream ?? pino.destination({ fd: options.fd, sync: true });
  return pino(
    {
      level: options.level,
      base: { name: "hop3-health" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // A last line of defence: whatever a plugin logs, a configured secret does not reach the log.
      hooks: redact ? { streamWrite: (line: string) => redact(line) } : {},
    },
    options.pretty ? prettyStream(destination) : destination,
  );
}

const LEVEL_COLOURS: Record<string, string> = { fatal: "\x1b[35m", error: "\x1b[31m", warn: "\x1b[33m", info: "\x1b[32m", debug: "\x1b[90m", trace: "\x1b[90m" };

/** "07:31:28 INFO  message key=value", for a person at a terminal. */
function prettyStream(out: { write(text: string): unknown }): Writable {
  const plain = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "";
  const paint = (code: string, text: string): string => (plain ? text : `${code}${text}\x1b[0m`);
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split("\n")) {
        if (line === "") continue;
        try {
          const { time, level, msg, name: _name, pid: _pid, hostname: _hostname, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const label = String(level);
          const extra = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ");
          const clock = typeof time === "string" ? time.slice(11, 19) : "";
          out.write(`${clock} ${paint(LEVEL_COLOURS[label] ?? "", label.toUpperCase().padEnd(5))} ${typeof msg === "string" ? msg : JSON.stringify(msg)}${extra ? ` ${paint("\x1b[90m", extra)}` : ""}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      callback();
    },
  });
}
