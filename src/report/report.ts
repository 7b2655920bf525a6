// One cycle arranged as the report: identity, sections in their fixed order, overall severity.
// Every rendering (text, quiet, JSON, HTML) starts from this. Within a section, checks keep the
// order their plugins gave them in.

import { histories, type HistorySource } from "./history.js";
import { SECTIONS, worstSeverity, type Severity } from "../health/model.js";
import type { Cause, CheckOutcome, Cycle, Identity } from "../health/outcome.js";

export interface ReportSection {
  title: string;
  items: CheckOutcome[];
}

export interface Report {
  identity: Identity;
  overall: Severity;
  sections: ReportSection[];
  counts: Record<Severity, number>;
  generatedAt: Date;
  /** The recurring maintenance windows ([maintenance.<id>]), with their next start. */
  scheduled?: ScheduledWindow[];
}

export interface ScheduledWindow {
  id: string;
  tz: string;
  duration_seconds: number;
  checks: string[];
  next: string | null;
  open?: { started: string; until: string };
}

export function buildReport(
  identity: Identity,
  cycle: Cycle,
  maintenance: ReadonlyMap<string, { until: string; reason: string }> = new Map(),
  scheduled: ScheduledWindow[] = [],
): Report {
  // Root cause: a check (an app) that publishes hop3_app_dependency{check} and is not ok while that
  // check is not ok either is shown with it as its cause, so the operator mends the database first.
  const byId = new Map(cycle.outcomes.map((o) => [o.check, o]));
  const causesOf = (outcome: CheckOutcome): Cause[] =>
    outcome.severity === "ok"
      ? []
      : outcome.measurements
          .filter((m) => m.name === "hop3_app_dependency" && m.value === 1)
          .map((m) => byId.get(m.labels?.check ?? ""))
          .filter((dependency): dependency is CheckOutcome => dependency !== undefined && dependency.severity !== "ok")
          .map((dependency) => ({ check: dependency.check, name: dependency.name, severity: dependency.severity }));
  const bySection = new Map<string, CheckOutcome[]>();
  for (const outcome of cycle.outcomes) {
    const causes = causesOf(outcome);
    const window = maintenance.get(outcome.check);
    const item = causes.length > 0 || window ? { ...outcome, ...(causes.length > 0 ? { causes } : {}), ...(window ? { maintenance: { until: window.until, reason: window.reason } } : {}) } : outcome;
    const items = bySection.get(outcome.section);
    if (items) items.push(item);
    else bySection.set(outcome.section, [item]);
  }
  const known = SECTIONS as readonly string[];
  const titles = [...known.filter((t) => bySection.has(t)), ...[...bySection.keys()].filter((t) => !known.includes(t))];
  const sections = titles.map((title) => ({
    title,
    items: bySection.get(title)!,
  }));
  const counts: Record<Severity, number> = { ok: 0, warn: 0, fail: 0 };
  for (const outcome of cycle.outcomes) counts[outcome.severity]++;
  return {
    identity,
    overall: worstSeverity(cycle.outcomes.map((o) => o.severity)),
    sections,
    counts,
    generatedAt: cycle.finishedAt,
    ...(scheduled.length > 0 ? { scheduled } : {}),
  };
}

/** The Nagios plugin convention: 0 ok, 1 warn, 2 fail (3, unknown, is for errors). */
export function exitCodeFor(severity: Severity): 0 | 1 | 2 {
  return severity === "ok" ? 0 : severity === "warn" ? 1 : 2;
}

export const SYMBOLS: Record<Severity, string> = { ok: "✓", warn: "⚠", fail: "✗" };

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** "✓ all OK", "⚠ 2 warnings", "✗ 1 failure, 2 warnings". */
export function summaryText(report: Report): string {
  if (report.overall === "ok") return `${SYMBOLS.ok} all OK`;
  const parts: string[] = [];
  if (report.counts.fail > 0) parts.push(plural(report.counts.fail, "failure"));
  if (report.counts.warn > 0) parts.push(plural(report.counts.warn, "warning"));
  return `${SYMBOLS[report.overall]} ${parts.join(", ")}`;
}

/**
 * What follows a check's detail: " (cause: PostgreSQL ✗)" when a service it depends on fails,
 * " [in maintenance until 10:30 UTC: reason]" while it is in a window; "" otherwise.
 */
export function afterDetail(item: CheckOutcome): string {
  const cause = item.causes?.length ? ` (cause: ${item.causes.map((c) => `${c.name} ${SYMBOLS[c.severity]}`).join(", ")})` : "";
  const window = item.maintenance ? ` [in maintenance until ${item.maintenance.until.slice(0, 16).replace("T", " ")} UTC${item.maintenance.reason ? `: ${item.maintenance.reason}` : ""}]` : "";
  return cause + window;
}

export function identityLine(identity: Identity): string {
  const version = identity.version === "unknown" ? "version unknown" : `v${identity.version}`;
  return `Hop3 server: ${identity.hostname} (${identity.ip}) — ${version} — up ${identity.uptime}`;
}

/** The report with each item's history from the event log (see history.ts), at `now`. */
export function withHistory(report: Report, source: HistorySource, now = Date.now()): Report {
  const current = new Map(report.sections.flatMap((s) => s.items.map((i) => [i.check, i.severity] as const)));
  const found = histories(source, current, now);
  return { ...report, sections: report.sections.map((s) => ({ ...s, items: s.items.map((i) => ({ ...i, history: found.get(i.check) })) })) };
}
