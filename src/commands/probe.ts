// `hop3-health probe APP`: the deploy-time startup probe, asked of the local exporter or run here.

import { createEngine } from "../engine/engine.js";
import { probeCommand } from "../probe/command.js";
import type { ProbeRequest } from "../probe/target.js";
import { printable } from "../report/text.js";
import type { CommandOutput } from "./output.js";

export async function probe(request: ProbeRequest, options: { config?: string; dryRun: boolean }): Promise<CommandOutput> {
  const engine = await createEngine({ file: options.config, logLevel: "silent" });
  const { verdict, note } = await probeCommand(engine, request, { dryRun: options.dryRun });
  if (note) process.stderr.write(`hop3-health: ${printable(note)}\n`);
  // The message quotes the app's manifest (`contains`) and answer: terminal escapes in them are shown, not obeyed.
  return { stdout: `${printable(verdict.message)}\n`, code: verdict.result === "success" ? 0 : 2 };
}
