// Continuous app health: every app under HOP3_ROOT/apps (or named in [apps.<name>]) whose
// hop3.toml declares a health endpoint is a check `app:<name>`, probed every `interval` of its
// manifest. It turns fail after `retries` failures in a row and ok again after one success, so a
// single blip does not page. Apps that appear or go are picked up at the next cycle.

import { readdir } from "node:fs/promises";
import { z } from "zod";
import type { HealthCheck, HealthCheckResult, Plugin, PluginContext, Severity } from "../src/health/model.js";
import { severityValue } from "../src/health/model.js";
import { budgetMs } from "../src/lib/net.js";
import { ManifestError, type HealthEndpoint } from "../src/probe/manifest.js";
import { probeOnce } from "../src/probe/probe.js";
import { appDirectory, baseUrlOf, endpointOf, ProbeInputError } from "../src/probe/target.js";

/** What is remembered of each app between cycles (checks are made anew every cycle). */
interface AppMemory {
  severity: Severity;
  failuresInARow: number;
  lastProbeAt: number;
  last: HealthCheckResult | null;
}
const memory = new Map<string, AppMemory>();

async function appNames(ctx: PluginContext): Promise<string[]> {
  let found: string[] = [];
  try {
    found = (await readdir(`${ctx.hop3Root}/apps`, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name);
  } catch {
    // No apps directory: the apps-dir check says so.
  }
  return [...new Set([...found, ...Object.keys(ctx.appsConfig)])].sort();
}

function result(app: string, severity: Severity, message: string, details: Record<string, unknown>): HealthCheckResult {
  return {
    name: app,
    passed: severity === "ok",
    severity,
    message,
    details,
    measurements: [{ name: "hop3_app_health_severity", value: severityValue(severity), labels: { app } }],
  };
}

function appCheck(ctx: PluginContext, app: string, endpoint: HealthEndpoint): HealthCheck {
  const id = `app:${app}`;
  return {
    id,
    name: app,
    section: "Apps",
    isConfigured: () => true,
    async check(signal): Promise<HealthCheckResult> {
      const remembered = memory.get(app) ?? { severity: "ok", failuresInARow: 0, lastProbeAt: 0, last: null };
      memory.set(app, remembered);
      // Probed every `interval` of its manifest, however often the cycles come.
      if (remembered.last && Date.now() - remembered.lastProbeAt < endpoint.interval * 1000 - 50) return remembered.last;

      let base: URL;
      try {
        base = await baseUrlOf(app, appDirectory(ctx.hop3Root, app), ctx, {});
      } catch (error) {
        if (error instanceof ProbeInputError) return result(app, "fail", error.message, {});
        throw error;
      }
      const url = new URL(endpoint.path, base);
      const timeoutMs = Math.min(endpoint.timeout * 1000, budgetMs(ctx, id).ms);
      const attempt = await probeOnce(url, { timeoutMs, contains: endpoint.contains, expectedStatus: endpoint.expectedStatus }, signal);
      remembered.lastProbeAt = Date.now();
      const details = { url: url.href, retries: endpoint.retries, interval: endpoint.interval, observed: attempt.observed };
      if (attempt.ok) {
        remembered.failuresInARow = 0;
        remembered.severity = "ok";
        remembered.last = result(app, "ok", `answering: ${attempt.observed} on ${endpoint.path}`, { ...details, failures_in_a_row: 0 });
      } else {
        remembered.failuresInARow++;
        const n = remembered.failuresInARow;
        if (n >= endpoint.retries) {
          remembered.severity = "fail";
          remembered.last = result(app, "fail", `not answering on ${endpoint.path}: ${attempt.observed} (${n} failed probes in a row)`, { ...details, failures_in_a_row: n });
        } else {
          // Not yet: it keeps the severity it had, and says what it saw.
          remembered.last = result(app, remembered.severity, `${attempt.observed} on ${endpoint.path} (${n} of ${endpoint.retries} failed probes before it fails)`, {
            ...details,
            failures_in_a_row: n,
          });
        }
      }
      return remembered.last;
    },
  };
}

/** A check for an app whose manifest or address is wrong: that is a failure worth seeing. */
function brokenAppCheck(app: string, message: string): HealthCheck {
  return {
    id: `app:${app}`,
    name: app,
    section: "Apps",
    isConfigured: () => true,
    check: () => Promise.resolve(result(app, "fail", message, {})),
  };
}

const plugin: Plugin = {
  name: "apps",
  settings: { "app:*": z.strictObject({}) },
  async getHealthChecks(ctx) {
    const names = await appNames(ctx);
    const checks: HealthCheck[] = [];
    for (const app of names) {
      try {
        const endpoint = await endpointOf(appDirectory(ctx.hop3Root, app));
        if (endpoint) checks.push(appCheck(ctx, app, endpoint));
      } catch (error) {
        if (error instanceof ManifestError || error instanceof ProbeInputError) checks.push(brokenAppCheck(app, error.message));
        else throw error;
      }
    }
    // Apps that went away are forgotten.
    for (const app of memory.keys()) if (!names.includes(app)) memory.delete(app);
    return checks;
  },
};

export default plugin;
