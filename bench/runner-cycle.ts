// How long a cycle takes against its slowest check. Checks with known latencies (one of them
// hanging until its timeout) run through the real runner; the figure that matters is
// cycle time ÷ slowest check, which should be close to 1.0 when the bound allows all at once.
//
//   npm run build && node dist/bench/runner-cycle.js

import { performance } from "node:perf_hooks";
import type { HealthCheck } from "../src/health/model.js";
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

async function measure(label: string, count: number, maxLatencyMs: number, timeoutSeconds: number, concurrency: number): Promise<void> {
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
    `${label.padEnd(34)} checks=${String(count).padStart(5)} concurrency=${String(concurrency).padStart(5)} ` +
      `slowest=${slowestSeconds.toFixed(3)}s cycle=${seconds.toFixed(3)}s ratio=${(seconds / slowestSeconds).toFixed(3)} timed_out=${timedOut}`,
  );
}

console.log(`node ${process.version}, runner cycle time ÷ slowest check (1.0 is ideal)`);
await measure("50 checks, one hanging (1 s)", 50, 500, 1, 64);
await measure("1,000 checks, one hanging (1 s)", 1000, 500, 1, 1000);
await measure("1,000 checks at the default bound", 1000, 500, 1, 32);
