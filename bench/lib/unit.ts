// The environment deploy/hop3-health.service runs the exporter with (NODE_OPTIONS, MALLOC_ARENA_MAX,
// NODE_ENV), so that benchmarks measure it as it runs on a server. EXPORTER_NODE_OPTIONS, when
// set, stands in for the unit's NODE_OPTIONS.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface UnitEnvironment {
  env: Record<string, string>;
  /** "NODE_OPTIONS=... MALLOC_ARENA_MAX=2 ...", for a benchmark's first line. */
  text: string;
}

export function unitEnvironment(): UnitEnvironment {
  const unit = readFileSync(fileURLToPath(new URL("../../../deploy/hop3-health.service", import.meta.url)), "utf8");
  const env: Record<string, string> = {};
  for (const [, name, value] of unit.matchAll(/^Environment="?([A-Z_]+)=([^"\n]*)"?$/gm)) env[name!] = value!.trim();
  if (process.env.EXPORTER_NODE_OPTIONS !== undefined) env.NODE_OPTIONS = process.env.EXPORTER_NODE_OPTIONS;
  return { env, text: Object.entries(env).map(([name, value]) => `${name}=${value}`).join(" ") };
}
