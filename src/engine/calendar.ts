// What is a calendar in hop3-health: the cron `schedule` of a job that reports in, and recurring
// maintenance windows, both in a time zone. node-cron reads the expressions and finds the next
// runs (daylight-saving changes included: a local time that does not exist that day is skipped,
// one that happens twice runs once); `serve` also schedules a node-cron task on each, so that a
// window opens and a late job shows at the minute, not at the next check cycle.
//
// node-cron is loaded only where a schedule is configured (it is CommonJS as well, so that the
// configuration's validation can load it synchronously).

import { createRequire } from "node:module";

type NodeCron = typeof import("node-cron");
const require = createRequire(import.meta.url);
let loaded: NodeCron | undefined;
export const nodeCron = (): NodeCron => (loaded ??= require("node-cron") as NodeCron);

/** Why a cron expression or time zone is refused, or undefined when it is good. Five fields only: minutes are the finest step. */
export function cronProblem(expression: string, tz: string | undefined): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return `expected a cron expression of 5 fields (minute hour day-of-month month day-of-week), such as "0 3 * * *"`;
  const checked = nodeCron().validateDetailed(expression);
  if (!checked.valid) return `not a cron expression: ${checked.errors.map((e) => `${e.field}${e.value !== undefined ? ` ${JSON.stringify(e.value)}` : ""}: ${e.message}`).join("; ")}`;
  if (tz !== undefined && !timeZoneExists(tz)) return `unknown time zone ${JSON.stringify(tz)}: expected an IANA name such as "Europe/Paris" or "UTC"`;
  if (calendar(expression, tz).nextRuns(1).length === 0) return "this expression never runs";
  return undefined;
}

export function timeZoneExists(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export interface Calendar {
  readonly expression: string;
  readonly tz: string | undefined;
  /** The next `count` runs after now. */
  nextRuns(count: number): Date[];
  /** The latest run in (from, to], looked for minute by minute: for short spans only (a window's duration). */
  lastRunWithin(from: number, to: number): Date | undefined;
}

/** Calendars made, by time zone and expression: node-cron keeps every task it creates in a registry of its own. */
const made = new Map<string, Calendar>();
const MAX_MADE = 256;

export function calendar(expression: string, tz: string | undefined): Calendar {
  const key = `${tz ?? ""}\n${expression}`;
  let found = made.get(key);
  if (!found) {
    if (made.size >= MAX_MADE) made.clear();
    made.set(key, (found = makeCalendar(expression, tz)));
  }
  return found;
}

function makeCalendar(expression: string, tz: string | undefined): Calendar {
  // A task that is never started: node-cron's matcher and next-run finder, no timer.
  const task = nodeCron().createTask(expression, () => undefined, tz !== undefined ? { timezone: tz } : {});
  return {
    expression,
    tz,
    nextRuns: (count) => task.getNextRuns(count),
    lastRunWithin(from, to) {
      for (let minute = Math.floor(to / 60_000) * 60_000; minute > from; minute -= 60_000) {
        if (task.match(new Date(minute))) return new Date(minute);
      }
      return undefined;
    },
  };
}

/** A time as people of that zone read it: "Sun 2026-12-06 04:00 Europe/Paris". */
export function localTime(date: Date, tz: string | undefined): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", { timeZone: tz ?? "UTC", weekday: "short", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${tz ?? "UTC"}`;
}
