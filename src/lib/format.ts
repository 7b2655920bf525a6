// Small text formats shared by the messages of checks, the runner and the probe.

/** 5 → "5s", 0.25 → "0.25s" (at most millisecond precision). */
export function formatSeconds(seconds: number): string {
  return `${Number(seconds.toFixed(3))}s`;
}
