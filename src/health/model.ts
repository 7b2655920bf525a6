// The health model: what a check is, what it returns, and how severities order.
// No I/O here; everything else in hop3-health is built on these types.

import type { Logger } from "../lib/logger.js";
import type { z } from "#zod-classic";

export const SEVERITIES = ["ok", "warn", "fail"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The numeric value published as `hop3_health_severity`: 0 ok, 1 warn, 2 fail. */
export function severityValue(severity: Severity): 0 | 1 | 2 {
  return SEVERITIES.indexOf(severity) as 0 | 1 | 2;
}

export function isSeverity(value: unknown): value is Severity {
  return typeof value === "string" && (SEVERITIES as readonly string[]).includes(value);
}

/** The worst severity of a list; an empty list is ok. */
export function worstSeverity(severities: Iterable<Severity>): Severity {
  let worst: Severity = "ok";
  for (const severity of severities) {
    if (severityValue(severity) > severityValue(worst)) worst = severity;
  }
  return worst;
}

/**
 * A named figure a check wants published, such as a disk's size. The metrics layer
 * publishes every measurement as a gauge `name{labels} value`, knowing nothing of the check.
 */
export interface Measurement {
  name: string;
  value: number;
  labels?: Record<string, string>;
  help?: string;
  /** How `status --perfdata` shows it to Nagios or Icinga; a measurement without it is not shown there. */
  perf?: Perfdata;
}

/** A performance datum in the Nagios plugin guidelines' terms: 'label'=value[unit];warn;crit;min;max. */
export interface Perfdata {
  label: string;
  /** "%", "s", "B" or "c" (a counter); none for a plain number. */
  unit?: "%" | "s" | "B" | "c";
  /** The value shown is the measurement's times this (a ratio shown as a percentage: 100). */
  scale?: number;
  warn?: number;
  crit?: number;
  min?: number;
  max?: number;
}

/** What a check's `check()` resolves to (Hop3's HealthCheckResult). */
export interface HealthCheckResult {
  name: string;
  passed: boolean;
  message: string;
  details?: Record<string, unknown>;
  /** When absent, derived from `passed`: passed → ok, not passed → fail. */
  severity?: Severity;
  measurements?: Measurement[];
}

export function derivedSeverity(result: Pick<HealthCheckResult, "passed" | "severity">): Severity {
  return result.severity ?? (result.passed ? "ok" : "fail");
}

/** The sections of the report, in the order they are shown. Plugins may add others; they follow. */
export const SECTIONS = [
  "Services",
  "Backing services",
  "Filesystem",
  "Configuration",
  "Certificates",
  "Apps",
  "Jobs",
] as const;

export interface HealthCheck {
  /** The `check` label and the `[checks.<id>]` table name. */
  id: string;
  /** The display name in the report. */
  name: string;
  section: string;
  /** false → skipped: not reported, not a failure. */
  isConfigured(): boolean | Promise<boolean>;
  /** Must honour `signal`: when it aborts, give up and release what was opened. */
  check(signal: AbortSignal): Promise<HealthCheckResult>;
  /**
   * The severity of a failure the runner makes for this check (a throw, a timeout) when the
   * config sets no `severity_on_failure`: an optional service's check says "warn". Default fail.
   */
  severityOnFailure?: Severity;
}

/** The validated `[checks.<id>]` table: the common keys plus the plugin's own. */
export interface CheckSettings {
  enabled: boolean;
  timeout?: number;
  severity_on_failure?: Severity;
  [key: string]: unknown;
}

export interface PluginContext {
  /**
   * The `[checks.<id>]` table, validated, with defaults when absent. `T` types the plugin's own
   * keys, as its settings schema for that id declares them.
   */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed view of a validated table
  configFor<T extends object = Record<string, unknown>>(id: string): CheckSettings & T;
  /** The check's timeout in seconds: its table's `timeout`, else the default one. */
  timeoutFor(id: string): number;
  hop3Root: string;
  /** Where Hop3 keeps secret-key, redis-pass, s3-env and ssl/hop3.crt (default /etc/hop3). */
  hop3EtcDir: string;
  /** How the platform's services run here: "systemd", "supervisor" or "none" (found out once, when first asked). */
  serviceManager(): Promise<"systemd" | "supervisor" | "none">;
  logger: Logger;
  /** Hosts besides this one that app checks and probes may reach (`[probes] allowed_hosts`). */
  allowedHosts: readonly string[];
  /** `[apps.<name>]` tables of the config: where each app listens, and what else counts as healthy. */
  appsConfig: Record<string, AppSettings>;
  /**
   * The severity the check had when this exporter last saw it, from before a restart (the event
   * log), or undefined. A check with memory of its own (hysteresis) starts from it, so a restart
   * invents no recovery.
   */
  lastKnownSeverity(id: string): Severity | undefined;
  /**
   * For a check whose settings hop3-health found in Hop3's own files (nothing configured):
   * where from (file and keys, never values), where its password came from, and a problem
   * that keeps it from being checked as Hop3 would (a file it may not read).
   */
  discovered(id: string): { from: string; passwordFrom?: string; problem?: string } | undefined;
  /**
   * Runs `work` (open a connection, ask, close it) when fewer than `connections_per_server`
   * others are connected to the same server (host:port), else waits its turn: checks start all
   * at once, and a server is not met by a herd. Waiting ends when `signal` aborts.
   */
  withServer<T>(server: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** `[heartbeats.<id>]` of the config: seconds between beats, or a cron schedule in a time zone; the grace after one is due. */
  heartbeats: Record<string, HeartbeatSetting>;
  /** The jobs' last beats, when each was first watched, and why they cannot be read, if so. */
  beats: Beats;
}

export interface HeartbeatSetting {
  every?: number | undefined;
  schedule?: string | undefined;
  tz?: string | undefined;
  grace?: number | undefined;
}

/** A job's report: when, whether it went well, and what it said. */
export interface Beat {
  at: string;
  ok: boolean;
  message?: string;
}

export interface Beats {
  last(id: string): Beat | undefined;
  watchedSince(id: string): Date;
  /** A scheduled job's next run, by which (plus grace) a beat must come: the first run after its last beat, or after it was first watched. */
  dueBy(id: string): Date | undefined;
  /** Why the beats cannot be read, if so. */
  readonly problem: string | undefined;
}

/** hop3-health's own settings for an app, from `[apps.<name>]` of its config. */
export interface AppSettings {
  port?: number | undefined;
  url?: string | undefined;
  /** Statuses beyond 200–399 that count as healthy, as [low, high] ranges. */
  accept_status?: Array<[number, number]> | undefined;
}

/**
 * Something with zod's `safeParse` shape: how a plugin describes the keys of its tables.
 * `settings` maps a check id, or a prefix ending in `*` ("app:*"), to the schema of the keys
 * that check takes beyond `enabled`, `timeout` and `severity_on_failure`.
 */
export interface SettingsSchema {
  safeParse(value: unknown):
    | { success: true; data: unknown }
    | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

export interface Plugin {
  name: string;
  getHealthChecks(ctx: PluginContext): HealthCheck[] | Promise<HealthCheck[]>;
  /**
   * The schemas of the plugin's tables, or a function given hop3-health's own zod that returns
   * them: a plugin in a folder of its own cannot import zod, and need not.
   */
  settings?: Record<string, SettingsSchema> | ((zod: typeof z) => Record<string, SettingsSchema>);
}

export function isPlugin(value: unknown): value is Plugin {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<Plugin>;
  return typeof candidate.name === "string" && typeof candidate.getHealthChecks === "function";
}
