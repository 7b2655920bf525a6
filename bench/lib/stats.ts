// Small helpers the benchmarks share: timing a function many times and summarising it.

import { performance } from "node:perf_hooks";

export interface Summary {
  runs: number;
  median: number;
  p99: number;
  mean: number;
}

export function summarise(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { runs: sorted.length, median: at(0.5), p99: at(0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

/** Milliseconds per call of `fn`, `runs` times in a row, after `warmup` calls. */
export async function timeRuns(runs: number, fn: () => Promise<unknown>, warmup = 10): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  return summarise(samples);
}

export function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}
