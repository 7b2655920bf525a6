// node-cron tasks for what is a calendar, while `serve` runs: a recurring maintenance window
// opens at its run and ends `duration` later, and a scheduled job is looked at again `grace`
// after each run, so that both show at the minute rather than at the next check cycle (which
// would see them too, only later).

import type { Config } from "../config/schema.js";
import type { Logger } from "../lib/logger.js";
import { nodeCron } from "./calendar.js";
import { graceOf } from "./heartbeats.js";

export interface ScheduleHandlers {
  /** A scheduled job's grace after a run has passed: its check should run now. */
  heartbeatDue(id: string): void;
  /** A recurring window opened or ended. */
  maintenanceChanged(): void;
}

/** setTimeout takes at most 2^31 - 1 ms; a later moment is left to the check cycles. */
const MAX_DELAY = 2 ** 31 - 1;

export function startSchedules(config: Pick<Config, "heartbeats" | "maintenance">, handlers: ScheduleHandlers, logger: Logger): { stop(): void } {
  const scheduled = [
    ...Object.entries(config.heartbeats).flatMap(([id, h]) => (h.schedule === undefined ? [] : [{ name: `heartbeat:${id}`, schedule: h.schedule, tz: h.tz, after: [graceOf(h) * 1000 + 1000], run: () => handlers.heartbeatDue(id) }])),
    ...Object.entries(config.maintenance).map(([id, m]) => ({ name: `maintenance:${id}`, schedule: m.schedule, tz: m.tz, after: [0, m.duration * 1000 + 1000], run: () => handlers.maintenanceChanged() })),
  ];
  if (scheduled.length === 0) return { stop: () => undefined };
  const cron = nodeCron();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, run: () => void): void => {
    if (ms > MAX_DELAY) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms).unref();
    timers.add(timer);
  };
  // node-cron's own messages (a run missed while the machine slept) go to our log, not the console.
  const cronLogger = {
    info: (message: string) => logger.debug(message),
    warn: (message: string) => logger.debug(message),
    error: (message: string | Error) => logger.warn(`node-cron: ${String(message)}`),
    debug: (message: string | Error) => logger.trace(String(message)),
  };
  const tasks = scheduled.map((s) =>
    cron.schedule(s.schedule, () => s.after.forEach((ms) => later(ms, s.run)), { name: s.name, unref: true, logger: cronLogger, ...(s.tz !== undefined ? { timezone: s.tz } : {}) }),
  );
  return {
    stop() {
      for (const task of tasks) void task.destroy();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
