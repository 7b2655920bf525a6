// The JSON report of `status --json` and `GET /status`, with the keys of Hop3's own
// `system status --json`.

import type { Severity } from "../health/model.js";
import type { Cause } from "../health/outcome.js";
import { isReason, type Reason } from "../health/reasons.js";
import type { CheckHistory } from "./history.js";
import type { Report, ScheduledWindow } from "./report.js";

export interface JsonReport {
  identity: Report["identity"];
  overall: Report["overall"];
  summary: Report["counts"];
  sections: Array<{
    title: string;
    items: Array<{
      check: string;
      name: string;
      severity: Severity;
      passed: boolean;
      detail: string;
      /** Why it is not ok, when it is not: one word of a fixed set (see the README). */
      reason?: Reason;
      details: Record<string, unknown>;
      duration_seconds: number;
      /** The failing services it depends on, when it is not ok: the likely cause. */
      cause?: Cause[];
      /** While it is in a maintenance window: until when, and why. */
      maintenance?: { until: string; reason: string };
      /** From the event log, where there is one: since when at this severity, uptime, the last 24 h. */
      history?: CheckHistory;
      /** Apps: where Hop3 and uWSGI have it (running, stopped, deploying, crash_loop). */
      state?: string;
      /** Apps under a restart policy: what it did (policy, restarts in its window, next try, whether it gave up). */
      restarts?: Record<string, unknown>;
    }>;
  }>;
  /** The recurring maintenance windows, with their next start (only when some are configured). */
  scheduled_maintenance?: ScheduledWindow[];
  generated_at: string;
}

export function toJson(report: Report): JsonReport {
  return {
    identity: report.identity,
    overall: report.overall,
    summary: report.counts,
    sections: report.sections.map((section) => ({
      title: section.title,
      items: section.items.map((item) => ({
        check: item.check,
        name: item.name,
        severity: item.severity,
        passed: item.passed,
        detail: item.detail,
        ...(item.reason !== undefined ? { reason: item.reason } : {}),
        details: item.details,
        duration_seconds: Number(item.durationSeconds.toFixed(6)),
        ...(item.causes ? { cause: item.causes } : {}),
        ...(item.maintenance ? { maintenance: item.maintenance } : {}),
        ...(item.history ? { history: item.history } : {}),
        ...(item.check.startsWith("app:") && typeof item.details.state === "string" ? { state: item.details.state } : {}),
        ...(item.check.startsWith("app:") && typeof item.details.restarts === "object" && item.details.restarts !== null ? { restarts: item.details.restarts as Record<string, unknown> } : {}),
      })),
    })),
    ...(report.scheduled ? { scheduled_maintenance: report.scheduled } : {}),
    generated_at: report.generatedAt.toISOString(),
  };
}

/** The report back from its JSON (what `status --url` reads from a running exporter). */
export function fromJson(body: JsonReport): Report {
  const generatedAt = new Date(body.generated_at);
  return {
    identity: body.identity,
    overall: body.overall,
    counts: body.summary,
    generatedAt,
    ...(Array.isArray(body.scheduled_maintenance) ? { scheduled: body.scheduled_maintenance } : {}),
    sections: body.sections.map((section) => ({
      title: section.title,
      items: section.items.map((item) => ({
        check: item.check,
        name: item.name,
        section: section.title,
        severity: item.severity,
        passed: item.passed,
        detail: item.detail,
        ...(isReason(item.reason) ? { reason: item.reason } : {}),
        details: item.details,
        measurements: [],
        durationSeconds: item.duration_seconds,
        finishedAt: generatedAt,
        ...(Array.isArray(item.cause) ? { causes: item.cause } : {}),
        ...(item.maintenance ? { maintenance: item.maintenance } : {}),
        ...(item.history ? { history: item.history } : {}),
        ...(item.check.startsWith("app:") && typeof item.details.state === "string" ? { state: item.details.state } : {}),
      })),
    })),
  };
}
