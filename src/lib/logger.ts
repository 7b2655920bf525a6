// The log is pino's: one JSON object per line ({"level","time","name",...fields,"msg"}), written
// synchronously to stdout (serve) or stderr (commands whose stdout is their output). Secrets are
// kept out twice: pino's `redact` paths censor the fields that hold them by name, and every
// line passes hop3-health's own masking (configured passwords, credentials in URLs) before it is
// written, whatever a plugin put where. For a person reading it, pipe it through pino-pretty
// (`hop3-health serve | npx pino-pretty`); a CLI command writing to a terminal prints one
// readable line per entry itself.
//
// pino is loaded by the first line actually written: `status` with nothing to say, and `--help`,
// never load it (bench/startup.ts).

import { createRequire } from "node:module";
import type { Redactor } from "../health/redact.js";

type Pino = typeof import("pino");
type PinoLogger = import("pino").Logger;

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
  /** A logger that adds these fields to every line (pino's child loggers). */
  child(bindings: LogFields): Logger;
};

export interface LoggerOptions {
  level: string;
  /** 1 stdout, 2 stderr. */
  fd: 1 | 2;
  /** Instead of fd: any stream (tests read the log from one). */
  stream?: NodeJS.WritableStream;
  /** One readable line per entry (for a terminal) instead of JSON; by default, when fd is a terminal. */
  pretty?: boolean;
  redact?: Redactor;
}

/** Field names whose values never reach the log, wherever pino finds them (one level deep too). */
export const REDACTED_PATHS = ["password", "secret", "secret_key", "token", "authorization", "*.password", "*.secret", "*.secret_key", "*.token", "*.authorization", "headers.authorization", "headers.cookie"];

const require = createRequire(import.meta.url);

export function createLogger(options: LoggerOptions): Logger {
  const threshold = options.level === "silent" ? LEVELS.length : Math.max(0, LEVELS.indexOf(options.level as Level));
  let pino: PinoLogger | undefined;
  const instance = (): PinoLogger => (pino ??= makePino(options));
  return facade(threshold, options.level, instance);
}

/** Our Logger over a pino logger made when first needed; levels below the threshold cost a comparison. */
function facade(threshold: number, level: string, instance: () => PinoLogger): Logger {
  const logger = { level } as { -readonly [K in keyof Logger]: Logger[K] };
  LEVELS.forEach((name, rank) => {
    logger[name] = (first: LogFields | string, message?: string) => {
      if (rank < threshold) return;
      if (typeof first === "string") instance()[name](first);
      else instance()[name](first, message);
    };
  });
  logger.child = (bindings) => {
    let child: PinoLogger | undefined;
    return facade(threshold, level, () => (child ??= instance().child(bindings)));
  };
  return logger;
}

function makePino(options: LoggerOptions): PinoLogger {
  const pino = require("pino") as Pino;
  const redact = options.redact ?? ((line: string) => line);
  // Whether fd is a terminal is asked here, by the first line written: a command that logs nothing never opens the stream.
  const pretty = options.pretty ?? (options.stream === undefined && (options.fd === 1 ? process.stdout : process.stderr).isTTY);
  const destination = options.stream ?? (pretty ? prettyStream(options.fd, process.env) : pino.destination({ fd: options.fd, sync: true }));
  return pino(
    {
      level: options.level,
      base: { name: "hop3-health" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Errors as their type and message wherever they are put, not {} (and no stack: it may hold paths and values).
      serializers: { err: errorFields, error: errorFields },
      redact: { paths: REDACTED_PATHS, censor: "***" },
      hooks: { streamWrite: redact },
    },
    destination,
  );
}

function errorFields(value: unknown): unknown {
  return value instanceof Error ? { type: value.name, message: value.message } : value;
}

const COLOURS: Record<Level, string> = { fatal: "\x1b[35m", error: "\x1b[31m", warn: "\x1b[33m", info: "\x1b[32m", debug: "\x1b[90m", trace: "\x1b[90m" };
const OWN_KEYS = new Set(["level", "time", "name", "msg"]);

/** pino's lines as "07:31:28 INFO  message key=value", for a person at a terminal. */
function prettyStream(fd: 1 | 2, env: NodeJS.ProcessEnv): { write(line: string): boolean } {
  const plain = env.NO_COLOR !== undefined && env.NO_COLOR !== "";
  const paint = (code: string, text: string): string => (plain ? text : `${code}${text}\x1b[0m`);
  const out = fd === 1 ? process.stdout : process.stderr;
  return {
    write(line) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const level = (LEVELS as readonly string[]).includes(String(entry.level)) ? (entry.level as Level) : "info";
      const extra = Object.entries(entry)
        .filter(([key]) => !OWN_KEYS.has(key))
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
        .join(" ");
      const time = typeof entry.time === "string" ? entry.time.slice(11, 19) : "";
      const msg = typeof entry.msg === "string" ? entry.msg : "";
      return out.write(`${time} ${paint(COLOURS[level], level.toUpperCase().padEnd(5))} ${msg}${extra ? ` ${paint("\x1b[90m", extra)}` : ""}\n`);
    },
  };
}
