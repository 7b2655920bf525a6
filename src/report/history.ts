// Each check's history, from the event log: since when it is at its severity, the last 24 hours
// as bars (the worst severity of each half hour), and its uptime over 24 hours and 7 days,
// computed exactly from the transitions: time at ok ÷ time observed, maintenance excluded.
// Observed means: from the first severity the log knows for the check (the snapshot that starts
// the log file, or its first transition) to now.

import type { HealthEvent } from "../engine/events.js";
import { isSeverity, type Severity } from "../health/model.js";

export const BARS = 48;
const DAY = 86_400_000;
const BAR_MS = DAY / BARS;

/** One bar: the worst severity seen in its half hour; "maintenance" when all of it was; null when nothing was observed. */
export type Bar = Severity | "maintenance" | null;

export interface CheckHistory {
  /** When the check entered the severity it is at now (ISO), or null when the log does not say. */
  since: string | null;
  /** Time at ok ÷ time observed, maintenance excluded, over the last 24 hours and 7 days; null when nothing was observed. */
  uptime_24h: number | null;
  uptime_7d: number | null;
  /** The last 24 hours, oldest first, one per half hour. */
  bars: Bar[];
  /** Since when the log knows the check (ISO): uptime over a day is over less than that before a day has passed. */
  observed_since: string | null;
}

export interface HistorySource {
  events: readonly HealthEvent[];
  origin: { time: string; severities: Record<string, Severity> } | null;
  trimmed: boolean;
}

interface Span {
  start: number;
  end: number;
}

const RANK: Record<Severity, number> = { ok: 0, warn: 1, fail: 2 };

/** The history of every check in `current` (its severity now), at `now`. */
export function histories(source: HistorySource, current: ReadonlyMap<string, Severity>, now = Date.now()): Map<string, CheckHistory> {
  // One pass over the events, by check: its known severities and its maintenance windows.
  const points = new Map<string, Array<{ time: number; severity: Severity }>>();
  const windows = new Map<string, Span[]>();
  const firstEvent = source.events.length > 0 ? Date.parse(source.events[0]!.time) : now;
  for (const event of source.events) {
    const time = Date.parse(event.time);
    if (Number.isNaN(time) || !current.has(event.check)) continue;
    if (event.kind === "transition" && isSeverity(event.to)) {
      const list = points.get(event.check) ?? [];
      // Where older events were dropped, what the check was before its first kept change is known, from then on.
      if (list.length === 0 && source.trimmed && isSeverity(event.from) && firstEvent < time) list.push({ time: firstEvent, severity: event.from });
      list.push({ time, severity: event.to });
      points.set(event.check, list);
    } else if (event.kind === "maintenance") {
      // A start says until when (a later start, an extension); an end closes it sooner. Without
      // an end (the exporter was down when it came), the window ends at its until.
      const list = windows.get(event.check) ?? [];
      const open = list.at(-1);
      const until = typeof event.until === "string" ? Date.parse(event.until) : Infinity;
      if (event.state === "start" && open && open.end > time) open.end = Number.isNaN(until) ? Infinity : until;
      else if (event.state === "start") list.push({ start: time, end: Number.isNaN(until) ? Infinity : until });
      else if (event.state === "end" && open && open.end > time) open.end = time;
      windows.set(event.check, list);
    }
  }
  const originTime = source.origin ? Date.parse(source.origin.time) : NaN;
  const result = new Map<string, CheckHistory>();
  for (const [check, severity] of current) {
    const known = points.get(check) ?? [];
    const atOrigin = source.origin?.severities[check];
    if (atOrigin !== undefined && !Number.isNaN(originTime)) known.push({ time: originTime, severity: atOrigin });
    known.sort((a, b) => a.time - b.time);
    result.set(check, historyOf(known, (windows.get(check) ?? []).map((w) => ({ start: w.start, end: Math.min(w.end, now) })), severity, now));
  }
  return result;
}

function historyOf(known: Array<{ time: number; severity: Severity }>, maintenance: Span[], current: Severity, now: number): CheckHistory {
  // The severity over time: each known point holds until the next; the last until now.
  const spans: Array<Span & { severity: Severity }> = [];
  for (const [i, p] of known.entries()) {
    const end = Math.min(known[i + 1]?.time ?? now, now);
    if (end > p.time) {
      const last = spans.at(-1);
      if (last && last.severity === p.severity && last.end === p.time) last.end = end;
      else spans.push({ start: p.time, end, severity: p.severity });
    }
  }
  const last = spans.at(-1);
  const since = last && last.severity === current ? new Date(last.start).toISOString() : null;
  const overlap = (a: Span, b: Span): number => Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
  /** A span's time within `range`, and how much of it was outside maintenance. */
  const within = (span: Span, range: Span): { seen: number; counted: number } => {
    const part = { start: Math.max(span.start, range.start), end: Math.min(span.end, range.end) };
    const seen = Math.max(0, part.end - part.start);
    return { seen, counted: seen > 0 ? seen - maintenance.reduce((sum, w) => sum + overlap(part, w), 0) : 0 };
  };
  const uptime = (windowMs: number): number | null => {
    const range = { start: now - windowMs, end: now };
    let observed = 0;
    let ok = 0;
    for (const span of spans) {
      const { counted } = within(span, range);
      observed += counted;
      if (span.severity === "ok") ok += counted;
    }
    return observed > 0 ? Math.round((ok / observed) * 1e6) / 1e6 : null;
  };
  // Each span lands on the bars it overlaps (not every span on every bar: a check that flapped
  // all day has a hundred spans).
  const worst: Array<Severity | null> = new Array<Severity | null>(BARS).fill(null);
  const seen: boolean[] = new Array<boolean>(BARS).fill(false);
  const dayStart = now - DAY;
  for (const span of spans) {
    const first = Math.max(0, Math.floor((span.start - dayStart) / BAR_MS));
    const last = Math.min(BARS - 1, Math.floor((span.end - dayStart) / BAR_MS));
    for (let i = first; i <= last; i++) {
      const part = within(span, { start: dayStart + i * BAR_MS, end: dayStart + (i + 1) * BAR_MS });
      if (part.seen > 0) seen[i] = true;
      const before = worst[i] ?? null;
      if (part.counted > 0 && (before === null || RANK[span.severity] > RANK[before])) worst[i] = span.severity;
    }
  }
  const bars: Bar[] = worst.map((severity, i) => severity ?? (seen[i] ? "maintenance" : null));
  const first = spans[0];
  return { since, uptime_24h: uptime(DAY), uptime_7d: uptime(7 * DAY), bars, observed_since: first ? new Date(first.start).toISOString() : null };
}

/** "3h 12m", "2d 4h", "45s": how long a state has lasted, in its two largest units. */
export function lasted(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const units: Array<[string, number]> = [
    ["d", Math.floor(s / 86_400)],
    ["h", Math.floor((s % 86_400) / 3600)],
    ["m", Math.floor((s % 3600) / 60)],
    ["s", s % 60],
  ];
  const first = units.findIndex(([, n]) => n > 0);
  if (first === -1) return "0s";
  return units
    .slice(first, first + 2)
    .filter(([, n]) => n > 0)
    .map(([u, n]) => `${n}${u}`)
    .join(" ");
}
