// pino, writing JSON lines to the given stream (stderr for commands whose stdout is the output).

import { pino, type Logger } from "pino";
import type { Redactor } from "../health/redact.js";

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** 1 stdout, 2 stderr. */
  fd: 1 | 2;
  /** Instead of fd: any stream (tests read the log from one). */
  stream?: NodeJS.WritableStream;
  redact?: Redactor;
}

export function createLogger(options: LoggerOptions): Logger {
  const redact = options.redact;
  return pino(
    {
      level: options.level,
      base: { name: "hop3-health" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // A last line of defence: whatever a plugin logs, a configured secret does not reach the log.
      hooks: redact
        ? {
            streamWrite: (line: string) => redact(line),
          }
        : {},
    },
    options.stream ?? pino.destination({ fd: options.fd, sync: true }),
  );
}
