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

/** Milliseconds per call of `a` and of `b`, called in turns (a, b, a, b…), so that the machine's noise falls on both alike. */
export async function timeInTurns(runs: number, a: () => Promise<unknown>, b: () => Promise<unknown>, warmup = 10): Promise<[Summary, Summary]> {
  for (let i = 0; i < warmup; i++) await Promise.all([a(), b()]);
  const samples: [number[], number[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of [a, b].entries()) {
      const started = performance.now();
      await fn();
      samples[k]!.push(performance.now() - started);
    }
  }
  return [summarise(samples[0]), summarise(samples[1])];
}

