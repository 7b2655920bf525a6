// `hop3-health status`: every check once here, or a running exporter's report, printed.

import { toJson } from "../report/json.js";
import { buildReport, exitCodeFor, type Report } from "../report/report.js";
import { renderQuiet, renderText, wantsColour } from "../report/text.js";
import type { CommandOutput } from "./output.js";

export interface StatusOptions {
  config?: string;
  json?: boolean;
  quiet?: boolean;
  noColor: boolean;
  url?: string;
}

export async function status(options: StatusOptions): Promise<CommandOutput> {
  const report = options.url !== undefined ? await remoteReport(options.url) : await localReport(options.config);
  const code = exitCodeFor(report.overall);
  if (options.json) return { stdout: `${JSON.stringify(toJson(report), null, 2)}\n`, code };
  if (options.quiet) return { stdout: renderQuiet(report), code };
  return { stdout: renderText(report, { colour: wantsColour(process.stdout, process.env, options.noColor) }), code };
}

// Each loaded only when used: the engine (configuration, plugins) is not needed to read a remote report.
async function remoteReport(url: string): Promise<Report> {
  const { fetchReport } = await import("../report/remote.js");
  return fetchReport(url);
}

async function localReport(file: string | undefined): Promise<Report> {
  const { createEngine } = await import("../engine/engine.js");
  const engine = await createEngine({ file, logLevel: "warn" });
  const [cycle, identity] = await Promise.all([engine.runCycle(), engine.identity()]);
  return buildReport(identity, cycle);
}
