// Bounds on what costs: connections to one server, child processes (run here). Waiting for a slot costs
// nothing, so a cycle of a thousand checks can start them all and let only these queue.

import { availableParallelism } from "node:os";

export type Limited = <T>(work: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

/** At most `max` of the works given to it run at once; the rest wait their turn, in order. */
export function limiter(max: number): Limited {
  let active = 0;
  const waiting: Array<() => void> = [];
  // A slot that frees up is handed to the first waiting, so that nobody can jump the queue.
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return async (work, signal) => {
    if (active < max) active++;
    else {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted while waiting its turn");
      await new Promise<void>((resolve, reject) => {
        const go = (): void => {
          signal?.removeEventListener("abort", giveUp);
          resolve();
        };
        // A check whose deadline passes while it waits leaves the queue at once.
        const giveUp = (): void => {
          waiting.splice(waiting.indexOf(go), 1);
          reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted while waiting its turn"));
        };
        waiting.push(go);
        signal?.addEventListener("abort", giveUp, { once: true });
      });
    }
    try {
      return await work();
    } finally {
      release();
    }
  };
}

/** One limiter per key (a server's host:port), made when first used and dropped when idle. */
export function keyedLimiter(max: number): <T>(key: string, work: () => Promise<T>, signal?: AbortSignal) => Promise<T> {
  const byKey = new Map<string, { limit: Limited; users: number }>();
  return async (key, work, signal) => {
    let entry = byKey.get(key);
    if (!entry) byKey.set(key, (entry = { limit: limiter(max), users: 0 }));
    entry.users++;
    try {
      return await entry.limit(work, signal);
    } finally {
      if (--entry.users === 0) byKey.delete(key);
    }
  };
}

/** Child processes (systemctl, supervisorctl, getent) at once: one per CPU. */
const limitProcesses: Limited = limiter(availableParallelism());

/**
 * A command's output and whether it failed (a non-zero exit still has its output), one per CPU
 * at once: a cycle may ask systemctl about many units.
 */
export function runCommand(command: string, args: string[], options: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<{ stdout: string; failed: Error | null }> {
  return limitProcesses(async () => {
    // Loaded by the first command run: a server without systemd or supervisor never needs it.
    const { execFile } = await import("node:child_process");
    return new Promise((resolve) => {
      execFile(command, args, { timeout: options.timeoutMs, maxBuffer: 1 << 20, ...(options.signal ? { signal: options.signal } : {}) }, (error, stdout) => {
        resolve({ stdout, failed: error });
      });
    });
  }, options.signal);
}
