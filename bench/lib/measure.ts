// What the benchmarks read of a running exporter: a pause, a process's RSS, one sample of a metric.

import { readFileSync } from "node:fs";

export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A process's resident memory now, in MB, from /proc/<pid>/status. */
export const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;

/** The value of an unlabelled series in a Prometheus exposition, NaN when absent. */
export const sample = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
