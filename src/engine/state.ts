// The exporter's memory: the last cycle, the latest outcome of every check, and the severity
// changes between cycles. Scrapes and pages read it; only finished cycles write it.

import type { Severity } from "../health/model.js";
import type { CheckOutcome, Cycle, Identity, SkippedCheck } from "../health/outcome.js";

export interface Transition {
  check: string;
  name: string;
  section: string;
  from: Severity | null;
  to: Severity;
  message: string;
  time: Date;
}

export class HealthState {
  /** The last finished cycle, or null before the first one. */
  lastCycle: Cycle | null = null;
  identity: Identity | null = null;
  /** When the host booted, Unix time, known from the start (before the first cycle). */
  bootTimeSeconds: number | null = null;
  /** Every check's latest outcome, by id. A check no longer reported drops out. */
  readonly outcomes = new Map<string, CheckOutcome>();
  readonly skipped = new Map<string, SkippedCheck>();
  /** The severity each check was last seen at, surviving restarts through the event log. */
  private readonly lastSeverity = new Map<string, Severity>();
  /** Severity changes since start, by check and new severity. */
  readonly transitionCounts = new Map<string, Map<Severity, number>>();

  /** Severities known from before this process started (read back from the event log). */
  restore(severities: ReadonlyMap<string, Severity>): void {
    for (const [check, severity] of severities) this.lastSeverity.set(check, severity);
  }

  /** Takes a finished cycle in; returns the severity changes it brought. */
  record(cycle: Cycle, identity: Identity): Transition[] {
    this.outcomes.clear();
    this.skipped.clear();
    const transitions = this.take(cycle.outcomes, cycle.skipped);
    this.lastCycle = cycle;
    this.setIdentity(identity);
    return transitions;
  }

  setIdentity(identity: Identity, at = Date.now()): void {
    this.identity = identity;
    if (identity.uptime_seconds !== null) this.bootTimeSeconds = Math.round(at / 1000 - identity.uptime_seconds);
  }

  /**
   * Takes in the outcomes of some checks run between cycles (an app whose process went away):
   * they replace those checks' outcomes, the rest stay as the last cycle left them.
   */
  recordSome(asked: Iterable<string>, outcomes: readonly CheckOutcome[], skipped: readonly SkippedCheck[]): Transition[] {
    // A check asked for that no plugin gives any more (an app removed) drops out.
    for (const id of asked) {
      this.outcomes.delete(id);
      this.skipped.delete(id);
    }
    return this.take(outcomes, skipped);
  }

  private take(outcomes: readonly CheckOutcome[], skipped: readonly SkippedCheck[]): Transition[] {
    const transitions: Transition[] = [];
    for (const outcome of outcomes) {
      this.outcomes.set(outcome.check, outcome);
      const before = this.lastSeverity.get(outcome.check) ?? null;
      if (before !== outcome.severity) {
        transitions.push({
          check: outcome.check,
          name: outcome.name,
          section: outcome.section,
          from: before,
          to: outcome.severity,
          message: outcome.detail,
          time: outcome.finishedAt,
        });
        this.lastSeverity.set(outcome.check, outcome.severity);
        const counts = this.transitionCounts.get(outcome.check) ?? new Map<Severity, number>();
        counts.set(outcome.severity, (counts.get(outcome.severity) ?? 0) + 1);
        this.transitionCounts.set(outcome.check, counts);
      }
    }
    for (const s of skipped) this.skipped.set(s.check, s);
    return transitions;
  }

  /** The report's view: the last cycle with the outcomes recorded since it. */
  currentCycle(): Cycle | null {
    if (!this.lastCycle) return null;
    return { ...this.lastCycle, outcomes: [...this.outcomes.values()], skipped: [...this.skipped.values()] };
  }
}
