// `hop3-health check-config [FILE]`: validates a configuration and says which tables match nothing.

import { createEngine } from "../engine/engine.js";
import { worstSeverity, type Severity } from "../health/model.js";
import { didYouMean } from "../lib/suggest.js";
import { exitCodeFor } from "../report/report.js";
import type { CommandOutput } from "./output.js";

export async function checkConfig(argument: string | undefined, option: string | undefined): Promise<CommandOutput> {
  const engine = await createEngine({ file: argument ?? option, ...(argument !== undefined ? { fileGivenAs: "the check-config argument" } : {}), logLevel: "silent" });
  const checks = await engine.discover();
  const ids = checks.map((c) => c.id);
  const unmatched = engine.settings.unmatchedTables(ids);
  const lines = [`${engine.loaded.file ?? "no config file (built-in defaults and environment)"}: valid`];
  lines.push(`  plugins: ${engine.plugins.map((p) => p.plugin.name).join(", ") || "none"}`);
  const problems: Severity[] = [];
  for (const failure of engine.pluginFailures) {
    lines.push(`  ✗ plugin ${failure.name}: ${engine.redact(failure.message)}`);
    problems.push("fail");
  }
  for (const id of unmatched) {
    lines.push(`  ⚠ [checks.${id}] matches no check of this server${didYouMean(id, ids)}`);
    problems.push("warn");
  }
  return { stdout: `${lines.join("\n")}\n`, code: exitCodeFor(worstSeverity(problems)) };
}
