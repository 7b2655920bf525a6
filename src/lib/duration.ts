// Durations as Prometheus and Alertmanager write them: "90s", "30m", "1h30m", "24h", "7d", "1w".

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/;

/** Seconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) seconds += Number(amount) * UNITS[unit!]!;
  return seconds > 0 ? seconds : undefined;
}

/** "1d 2h", "3h 12m", "45s": the two largest units, for messages. */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  let left = Math.max(0, Math.round(seconds));
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (left >= size || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(left / size)}${unit}`);
      left %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

/**
 * Milliseconds of a monotonic clock, as performance.now() gives them: the global `performance`
 * loads Node's perf_hooks (a dozen modules, 2 ms of every `status`) where process.hrtime does not.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
