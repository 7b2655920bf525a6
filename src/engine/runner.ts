// One cycle: every check, concurrently up to a bound, each under its own deadline and
// AbortSignal. Whatever a check does (throws, rejects, hangs, returns nonsense), the cycle
// gets a result for it, and no check waits on another.

import {
  derivedSeverity,
  isSeverity,
  type CheckSettings,
  type HealthCheck,
  type Severity,
} from "../health/model.js";
import type { CheckOutcome, Cycle, SkippedCheck } from "../health/outcome.js";
import { reasonOf, type Reason } from "../health/reasons.js";
import { capText, redactDeep, type Redactor } from "../health/redact.js";
import { describe, errorMessage } from "../lib/errors.js";
import { formatSeconds } from "../lib/format.js";
import { monotonicMs } from "../lib/duration.js";

export interface RunnerOptions {
  /** How many checks run at once; all of them when undefined (waiting costs nothing: what costs is bounded where it is spent). */
  concurrency?: number | undefined;
  /** Per-check deadline when a check's table sets no `timeout`. */
  defaultTimeoutSeconds: number;
  settingsFor(id: string): CheckSettings;
  redact?: Redactor;
  /** Told of a check that goes on long after its timeout. */
  onLeak?: (message: string) => void;
  /** Aborting it ends the cycle early: every running check is aborted and reported as such. */
  signal?: AbortSignal;
}

type RunOneResult = { kind: "outcome"; outcome: CheckOutcome } | { kind: "skipped"; skipped: SkippedCheck };

class DeadlineError extends Error {}

export async function runCycle(checks: readonly HealthCheck[], options: RunnerOptions): Promise<Cycle> {
  const startedAt = new Date();
  const results: RunOneResult[] = new Array<RunOneResult>(checks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < checks.length) {
      const index = next++;
      results[index] = await runOne(checks[index]!, options);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? checks.length, checks.length));
  await Promise.all(Array.from({ length: workers }, worker));

  const outcomes: CheckOutcome[] = [];
  const skipped: SkippedCheck[] = [];
  for (const result of results) {
    if (result.kind === "outcome") outcomes.push(result.outcome);
    else skipped.push(result.skipped);
  }
  return { outcomes, skipped, startedAt, finishedAt: new Date() };
}

async function runOne(check: HealthCheck, options: RunnerOptions): Promise<RunOneResult> {
  const identity = { check: check.id, name: check.name, section: check.section };
  let settings: CheckSettings;
  try {
    settings = options.settingsFor(check.id);
  } catch (error) {
    return failedOutcome(identity, "fail", `bad settings: ${errorMessage(error)}`, 0, "config");
  }
  if (!settings.enabled) return { kind: "skipped", skipped: identity };

  const timeoutSeconds = settings.timeout ?? options.defaultTimeoutSeconds;
  const failureSeverity: Severity = settings.severity_on_failure ?? check.severityOnFailure ?? "fail";
  const redact = options.redact ?? ((text: string) => text);
  const started = monotonicMs();

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  let phase = "running";
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineError(`timed out after ${formatSeconds(timeoutSeconds)}${phase === "running" ? "" : ` ${phase}`}`);
      controller.abort(error);
      reject(error);
    }, timeoutSeconds * 1000);
    if (options.signal) {
      onOuterAbort = () => {
        const error = new DeadlineError("aborted: the exporter is shutting down");
        controller.abort(error);
        reject(error);
      };
      if (options.signal.aborted) onOuterAbort();
      else options.signal.addEventListener("abort", onOuterAbort, { once: true });
    }
  });
  deadline.catch(() => undefined);

  const failure = (message: string, reason: Reason = "error"): RunOneResult =>
    failedOutcome(identity, failureSeverity, capText(redact(message)), (monotonicMs() - started) / 1000, reason);

  try {
    phase = "deciding whether it is configured";
    const configured = await withDeadline(() => check.isConfigured(), deadline);
    if (typeof configured !== "boolean") {
      return failure(`isConfigured() returned ${describe(configured)}, not a boolean`);
    }
    if (!configured) return { kind: "skipped", skipped: identity };

    phase = "running";
    const running = Promise.resolve().then(() => check.check(controller.signal));
    running.catch(() => undefined);
    controller.signal.addEventListener("abort", () => watchAbandoned(check.id, running, options.onLeak), { once: true });
    const result = await withDeadline(() => running, deadline);
    const problem = malformation(result);
    if (problem) return failure(`check returned a malformed result: ${problem}`);

    const severity = result.passed ? derivedSeverity(result) : (settings.severity_on_failure ?? derivedSeverity(result));
    const detail = capText(redact(result.message));
    return {
      kind: "outcome",
      outcome: {
        ...identity,
        severity,
        passed: result.passed,
        detail,
        ...(severity !== "ok" ? { reason: reasonOf(detail, result.details?.reason) } : {}),
        details: redactDeep(result.details ?? {}, redact),
        measurements: (result.measurements ?? []).map((m) => ({
          ...m,
          labels: m.labels ? redactDeep(m.labels, redact) : {},
        })),
        durationSeconds: (monotonicMs() - started) / 1000,
        finishedAt: new Date(),
      },
    };
  } catch (error) {
    if (error instanceof DeadlineError) return failure(error.message, "timeout");
    return failure(`check raised: ${errorMessage(error)}`);
  } finally {
    clearTimeout(timer);
    if (onOuterAbort) options.signal?.removeEventListener("abort", onOuterAbort);
  }
}

/** The outcome of a check that did not give a result of its own: it threw, hung, or could not run. */
function failedOutcome(identity: SkippedCheck, severity: Severity, message: string, durationSeconds: number, reason: Reason): RunOneResult {
  return {
    kind: "outcome",
    outcome: { ...identity, severity, passed: false, detail: message, reason, details: {}, measurements: [], durationSeconds, finishedAt: new Date() },
  };
}

/** Checks whose run outlived their deadline and has not ended: they ignored their abort signal. */
const abandoned = new Map<string, number>();

/** How many runs of each check are still going after their deadline (a leak, if it stays above 0). */
export function abandonedChecks(): ReadonlyMap<string, number> {
  return abandoned;
}

/** Counts a run that outlived its deadline until it ends, and says so once it has for a while. */
function watchAbandoned(check: string, running: Promise<unknown>, onLeak?: (message: string) => void): void {
  abandoned.set(check, (abandoned.get(check) ?? 0) + 1);
  const warn = setTimeout(() => onLeak?.(`check ${check} is still running 5s after its timeout: it ignores its abort signal, and what it holds leaks`), 5000);
  warn.unref();
  void running
    .catch(() => undefined)
    .finally(() => {
      clearTimeout(warn);
      const left = (abandoned.get(check) ?? 1) - 1;
      if (left > 0) abandoned.set(check, left);
      else abandoned.delete(check);
    });
}

/** Runs `work` (catching a synchronous throw) against the deadline. */
function withDeadline<T>(work: () => T | Promise<T>, deadline: Promise<never>): Promise<T> {
  const running = Promise.resolve().then(work);
  // A check that rejects after its deadline has passed must not become an unhandled rejection.
  running.catch(() => undefined);
  return Promise.race([running, deadline]);
}

/** Why a value is not a HealthCheckResult, or null when it is one. */
function malformation(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `expected an object, got ${describe(value)}`;
  const result = value as Record<string, unknown>;
  if (typeof result.passed !== "boolean") return `"passed" must be a boolean, got ${describe(result.passed)}`;
  if (typeof result.message !== "string") return `"message" must be a string, got ${describe(result.message)}`;
  if (result.name !== undefined && typeof result.name !== "string") return `"name" must be a string`;
  if (result.severity !== undefined && !isSeverity(result.severity)) {
    return `"severity" must be "ok", "warn" or "fail", got ${describe(result.severity)}`;
  }
  if (result.details !== undefined && (typeof result.details !== "object" || result.details === null || Array.isArray(result.details))) {
    return `"details" must be an object`;
  }
  if (result.measurements !== undefined) {
    if (!Array.isArray(result.measurements)) return `"measurements" must be a list`;
    for (const m of result.measurements as unknown[]) {
      const problem = measurementMalformation(m);
      if (problem) return problem;
    }
  }
  return null;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function measurementMalformation(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return "a measurement must be an object";
  const m = value as Record<string, unknown>;
  if (typeof m.name !== "string" || !METRIC_NAME.test(m.name)) return `measurement name ${describe(m.name)} is not a metric name`;
  if (typeof m.value !== "number" || Number.isNaN(m.value)) return `measurement ${m.name} has no numeric value`;
  if (m.labels !== undefined) {
    if (typeof m.labels !== "object" || m.labels === null) return `measurement ${m.name}: labels must be an object`;
    for (const [k, v] of Object.entries(m.labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith("__")) return `measurement ${m.name}: ${describe(k)} is not a label name`;
      if (typeof v !== "string") return `measurement ${m.name}: label ${k} must be a string`;
    }
  }
  if (m.perf !== undefined) {
    const perf = m.perf as Record<string, unknown> | null;
    if (typeof perf !== "object" || perf === null || typeof perf.label !== "string" || perf.label === "" || /['=]/.test(perf.label)) {
      return `measurement ${m.name}: perf needs a label without ' or =`;
    }
    if (perf.unit !== undefined && !["%", "s", "B", "c"].includes(perf.unit as string)) return `measurement ${m.name}: perf unit must be %, s, B or c`;
    for (const key of ["scale", "warn", "crit", "min", "max"]) {
      if (perf[key] !== undefined && (typeof perf[key] !== "number" || !Number.isFinite(perf[key]))) return `measurement ${m.name}: perf ${key} must be a number`;
    }
  }
  return null;
}
