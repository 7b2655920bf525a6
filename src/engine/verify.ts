// Startup verification: the backing services checked once as the exporter starts, each problem
// logged with a pointed message before the first scrape, then one summary line.

import type { Cycle } from "../health/outcome.js";
import type { Engine } from "./engine.js";

export const BACKING_SERVICES = "Backing services";

export async function verifyBackingServices(engine: Engine, signal?: AbortSignal): Promise<Cycle> {
  const checks = (await engine.discover()).filter((check) => check.section === BACKING_SERVICES);
  const cycle = await engine.run(checks, signal);
  const { logger } = engine;
  for (const outcome of cycle.outcomes) {
    const fields = { check: outcome.check, severity: outcome.severity };
    if (outcome.severity === "ok") logger.info(fields, `${outcome.name}: ${outcome.detail}`);
    else if (outcome.severity === "fail") {
      logger.error(fields, `${outcome.name} health check failed: ${outcome.detail}. Apps using this service will fail to deploy.`);
    } else {
      // A warning is not an outage: an optional service missing, or one close to its limits.
      logger.warn(fields, `${outcome.name} health check warning: ${outcome.detail}. Apps using this service may run degraded.`);
    }
  }
  const count = (severity: string): number => cycle.outcomes.filter((o) => o.severity === severity).length;
  const [ok, warn, fail] = [count("ok"), count("warn"), count("fail")];
  const summary = `startup verification: ${cycle.outcomes.length} backing service${cycle.outcomes.length === 1 ? "" : "s"} checked: ${ok} ok, ${warn} warning${warn === 1 ? "" : "s"}, ${fail} failure${fail === 1 ? "" : "s"}`;
  const fields = { ok, warn, fail, skipped: cycle.skipped.map((s) => s.check) };
  if (fail > 0) logger.error(fields, summary);
  else if (warn > 0) logger.warn(fields, summary);
  else logger.info(fields, summary);
  return cycle;
}
