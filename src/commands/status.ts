// `hop3-health status`: every check once here, or a running exporter's report, printed; with
// --check, one check, as a Nagios or Icinga plugin (one line, exit code by its severity).

import { InputError } from "../lib/errors.js";
import { didYouMean } from "../lib/suggest.js";
import { toJson } from "../report/json.js";
import { buildReport, exitCodeFor, withHistory, type Report } from "../report/report.js";
import { renderQuiet, renderText, wantsColour } from "../report/text.js";
import type { Engine } from "../engine/engine.js";
import type { CommandOutput } from "./output.js";

export interface StatusOptions {
  config?: string;
  json?: boolean;
  quiet?: boolean;
  noColor: boolean;
  url?: string;
  /** One check's id: only it runs, and the output is one line unless --json. */
  check?: string;
  /** Performance data after the one line (--quiet or --check). */
  perfdata?: boolean;
}

export async function status(options: StatusOptions): Promise<CommandOutput> {
  const report = options.url !== undefined ? await remoteReport(options.url, options.check) : await localReport(options.config, options.check, options.json === true);
  const code = exitCodeFor(report.overall);
  if (options.json) return { stdout: `${JSON.stringify(toJson(report), null, 2)}\n`, code };
  if (options.quiet || options.check !== undefined) return { stdout: renderQuiet(report, { perfdata: options.perfdata, single: options.check !== undefined }), code };
  // node:tty rather than process.stdout, which the output does not go through (src/cli.ts).
  const { isatty } = await import("node:tty");
  return { stdout: renderText(report, { colour: wantsColour({ isTTY: isatty(1) }, process.env, options.noColor) }), code };
}

// Each loaded only when used: the engine (configuration, plugins) is not needed to read a remote report.
async function remoteReport(url: string, check: string | undefined): Promise<Report> {
  const { fetchReport } = await import("../report/remote.js");
  const report = await fetchReport(url);
  if (check === undefined) return report;
  const items = report.sections.flatMap((s) => s.items);
  const item = items.find((i) => i.check === check);
  if (!item) throw new InputError(`no check ${check} in the report of ${url}${didYouMean(check, items.map((i) => i.check))}`);
  // The report of that check alone, its overall and counts made from it as a local run would.
  const counts = { ok: 0, warn: 0, fail: 0, [item.severity]: 1 };
  return { ...report, overall: item.severity, counts, sections: [{ title: item.section, items: [item] }] };
}

/** Checks run here; with `history`, each item's history from the exporter's event log, where there is one. */
async function localReport(file: string | undefined, check: string | undefined, history: boolean): Promise<Report> {
  const { createEngine, eventsFileOf } = await import("../engine/engine.js");
  const engine = await createEngine({ file, logLevel: "warn" });
  const report = await runLocally(engine, check);
  if (!history) return report;
  const { EventLog } = await import("../engine/events.js");
  const log = new EventLog(eventsFileOf(engine.config), engine.logger);
  await log.read();
  return withHistory(report, log.recent());
}

async function runLocally(engine: Engine, check: string | undefined): Promise<Report> {
  const identity = engine.identity();
  if (check === undefined) return buildReport(await identity, await engine.runCycle(), engine.maintenanceNow(), engine.recurring.view());
  const checks = await engine.discover();
  const wanted = checks.filter((c) => c.id === check);
  if (wanted.length === 0) throw new InputError(`no check ${check} on this server${didYouMean(check, checks.map((c) => c.id))}`);
  const cycle = await engine.run(wanted);
  if (cycle.outcomes.length === 0) throw new InputError(`${check} is not configured on this server: it would be skipped`);
  return buildReport(await identity, cycle, engine.maintenanceNow(), engine.recurring.view());
}
