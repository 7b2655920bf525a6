// How long a cycle takes against its slowest check. I/O-bound checks with known latencies (one
// of them hanging until its 1 s timeout) run through the real runner at the default settings;
// the figure that matters is cycle time ÷ slowest check, 1.0 at best. Beside it, the same cycle
// under the bound of 32 checks at once that was the default before (waits queued behind waits).
//
//   npm run build && node dist/bench/runner-cycle.js

import { performance } from "node:perf_hooks";
import type { HealthCheck } from "../src/health/model.js";
import { configSchema } from "../src/config/schema.js";
import { runCycle } from "../src/engine/runner.js";

function sleepingCheck(id: string, ms: number | "hang"): HealthCheck {
  return {
    id,
    name: id,
    section: "Services",
    isConfigured: () => true,
    check: (signal) =>
      new Promise((resolve, reject) => {
        if (ms === "hang") {
          signal.addEventListener("abort", () => reject(new Error("aborted")));
          return;
        }
        const timer = setTimeout(() => resolve({ name: id, passed: true, message: "ok" }), ms);
        signal.addEventListener("abort", () => clearTimeout(timer));
      }),
  };
}

async function measure(label: string, count: number, maxLatencyMs: number, timeoutSeconds: number, concurrency: number | undefined): Promise<void> {
  // Latencies spread evenly up to the maximum; the last check hangs until its timeout.
  const checks = Array.from({ length: count }, (_, i) =>
    i === count - 1 ? sleepingCheck(`hang-${i}`, "hang") : sleepingCheck(`c-${i}`, Math.round(((i + 1) / count) * maxLatencyMs)),
  );
  const slowestSeconds = Math.max(timeoutSeconds, maxLatencyMs / 1000);
  const started = performance.now();
  const cycle = await runCycle(checks, { concurrency, defaultTimeoutSeconds: timeoutSeconds, settingsFor: () => ({ enabled: true }) });
  const seconds = (performance.now() - started) / 1000;
  const timedOut = cycle.outcomes.filter((o) => o.detail.startsWith("timed out")).length;
  console.log(
    `${label.padEnd(40)} checks=${String(count).padStart(5)} concurrency=${String(concurrency ?? "all").padStart(5)} ` +
      `slowest=${slowestSeconds.toFixed(3)}s cycle=${seconds.toFixed(3)}s ratio=${(seconds / slowestSeconds).toFixed(3)} timed_out=${timedOut}`,
  );
}

const defaults = configSchema.parse({});
console.log(`node ${process.version}, runner cycle time ÷ slowest check (1.0 is ideal)`);
await measure("300 checks, default settings", 300, 900, 1, defaults.concurrency);
await measure("1,000 checks, default settings", 1000, 900, 1, defaults.concurrency);
await measure("300 checks, the old default bound of 32", 300, 900, 1, 32);
await measure("1,000 checks, the old default bound of 32", 1000, 900, 1, 32);
