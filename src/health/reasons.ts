// Why a check is not ok, as one word from a small fixed set: published as
// `hop3_health_check_failure_reason{check, reason}`, so an alert can say why without a label that
// changes with every message. A check may say it in `details.reason`; otherwise it is read from
// the message.

export const REASONS = [
  /** Nothing listens: connection refused. */
  "refused",
  /** No answer in time. */
  "timeout",
  /** A name that does not resolve. */
  "dns",
  /** A TLS problem: a self-signed or mismatched certificate, a handshake that fails. */
  "tls",
  /** A certificate expired or about to. */
  "expiry",
  /** Credentials refused. */
  "auth",
  /** An HTTP answer with the wrong status. */
  "http_status",
  /** An HTTP answer without the expected text. */
  "content",
  /** A process or service that should run and does not. */
  "not_running",
  /** A file or folder hop3-health (or Hop3's user) may not read or write. */
  "permission",
  /** A setting or file that is missing or wrong: a manifest, hop3-server.toml, a folder. */
  "config",
  /** Running out: disk space, connections. */
  "capacity",
  /** A job that did not report in on time (a heartbeat). */
  "late",
  /** uWSGI keeps respawning the app, or has blacklisted it. */
  "crash_loop",
  /** The restart policy stopped trying. */
  "gave_up",
  /** Anything else: a check that raised, an answer nobody expected. */
  "error",
] as const;

export type Reason = (typeof REASONS)[number];

export function isReason(value: unknown): value is Reason {
  return typeof value === "string" && (REASONS as readonly string[]).includes(value);
}

const PATTERNS: ReadonlyArray<[RegExp, Reason]> = [
  [/^crash loop/i, "crash_loop"],
  [/permission denied|not writable by|may not write|may not read/i, "permission"],
  [/authentication failed|access key or secret key|access denied|may not use database|may not connect/i, "auth"],
  [/connection refused|nothing listens/i, "refused"],
  [/timed out/i, "timeout"],
  [/host not found|name lookup/i, "dns"],
  [/expired|expires in|not valid before|still serves the old one/i, "expiry"],
  [/self-signed|certificate|\btls\b|ssl/i, "tls"],
  [/stopped unexpectedly|not running|is gone|no process|not usable/i, "not_running"],
  [/without ".*" in its first/i, "content"],
  [/\bHTTP \d{3}\b/, "http_status"],
  [/% used|connections in use|too many connections|no space left|quota/i, "capacity"],
  [/manifest invalid|not valid TOML|is not set|unknown key|does not exist|missing|no port known|bad settings|not a directory/i, "config"],
];

/** The reason a message gives, "error" when it says nothing recognisable. */
export function reasonOf(message: string, declared?: unknown): Reason {
  if (isReason(declared)) return declared;
  return PATTERNS.find(([pattern]) => pattern.test(message))?.[1] ?? "error";
}
