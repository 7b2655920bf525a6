// What one run of a check amounts to, and what one cycle of all checks amounts to.

import type { CheckHistory } from "../report/history.js";
import type { Measurement, Severity } from "./model.js";
import type { Reason } from "./reasons.js";

export interface CheckOutcome {
  check: string;
  name: string;
  section: string;
  severity: Severity;
  passed: boolean;
  detail: string;
  /** Why it is not ok (absent when ok): one of the fixed reasons of health/reasons.ts. */
  reason?: Reason;
  details: Record<string, unknown>;
  measurements: Measurement[];
  durationSeconds: number;
  finishedAt: Date;
  /**
   * Set by the report for a check that is not ok while a service it depends on fails (an app
   * whose LIVE_ENV names a PostgreSQL that is down): the likely cause, to be fixed first.
   */
  causes?: Cause[];
  /** Set by the report while the check is in a maintenance window: it still runs and shows, and does not page. */
  maintenance?: { until: string; reason: string };
  /** Set by the report from the event log, where there is one: since when at this severity, uptime, the last 24 h. */
  history?: CheckHistory;
}

export interface Cause {
  check: string;
  name: string;
  severity: Severity;
}

export interface SkippedCheck {
  check: string;
  name: string;
  section: string;
}

export interface Cycle {
  outcomes: CheckOutcome[];
  skipped: SkippedCheck[];
  startedAt: Date;
  finishedAt: Date;
}

export interface Identity {
  hostname: string;
  ip: string;
  version: string;
  /** The git commit of the Hop3 server, when its build says. */
  commit?: string;
  uptime: string;
  uptime_seconds: number | null;
}
