// `hop3-health maintenance start <check|app:NAME> --for 30m --reason "…"`, `… list`, `… end <check>`:
// maintenance windows. Asked of the running exporter over its operator socket (it logs and
// records them at once); with no exporter running, written in the state directory, where it
// reads them when it starts. Either way the authority is the state directory's permissions.

import { createEngine } from "../engine/engine.js";
import { localTime } from "../engine/calendar.js";
import { MAX_WINDOW_SECONDS, type RecurringView, type Window } from "../engine/maintenance.js";
import { formatDuration, parseDuration } from "../lib/duration.js";
import { InputError } from "../lib/errors.js";
import { askExporter, errorOf } from "./operator-client.js";
import { didYouMean } from "../lib/suggest.js";
import type { CommandOutput } from "./output.js";

export interface MaintenanceRequest {
  action: "start" | "end" | "list";
  check?: string;
  for?: string;
  reason?: string;
}

const when = (window: Window): string => `${window.until.slice(0, 16).replace("T", " ")} UTC`;

export async function maintenance(request: MaintenanceRequest, options: { config?: string }): Promise<CommandOutput> {
  const engine = await createEngine({ file: options.config, logLevel: "silent" });
  const store = engine.maintenance;
  if (request.action === "list") {
    // The checks there are, for the recurring windows' patterns.
    if (Object.keys(engine.config.maintenance).length > 0) await engine.discover();
    const open = [...engine.maintenanceNow().values()];
    const width = Math.max(0, ...open.map((w) => w.check.length));
    const lines = open.length === 0 ? ["no maintenance window is open"] : open.map((w) => `${w.check.padEnd(width)}  until ${when(w)}${w.reason ? `  ${w.reason}` : ""}`);
    const recurring = engine.recurring.view();
    if (recurring.length > 0) lines.push("", "Recurring windows:", ...recurring.map(recurringLine));
    return { stdout: `${lines.join("\n")}\n`, code: 0 };
  }
  const check = request.check!;
  const seconds = request.for === undefined ? undefined : parseDuration(request.for);
  if (request.action === "start" && (seconds === undefined || seconds > MAX_WINDOW_SECONDS)) {
    throw new InputError(`--for ${JSON.stringify(request.for ?? "")}: expected a duration of at most 30d, such as 30m, 2h or 1h30m`);
  }
  const body = request.action === "end" ? { check, end: true } : { check, for_seconds: seconds, reason: request.reason ?? "" };
  const answer = await askExporter(engine.config, "POST", "/api/v1/maintenance", body, 30);
  if (answer) {
    if (answer.status !== 200) throw new InputError(errorOf(answer));
    if (request.action === "end") return { stdout: (answer.body as { ended?: boolean }).ended ? `maintenance of ${check} ended\n` : `${check} had no maintenance window open\n`, code: 0 };
    const window = answer.body as Window;
    return { stdout: `${check} in maintenance for ${formatDuration(seconds!)}, until ${when(window)}${window.reason ? `: ${window.reason}` : ""}\n`, code: 0 };
  }
  const known = (await engine.discover()).map((c) => c.id);
  if (!known.includes(check)) throw new InputError(`no check ${check} on this server${didYouMean(check, known)}`);
  // No exporter answered: the file it reads at start, written here.
  const writing = <T>(work: () => T): T => {
    try {
      return work();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new InputError(`no exporter answered on its operator socket, and ${store.file} cannot be written (${code}): run this as the exporter's user (or root)`);
    }
  };
  if (request.action === "end") {
    const ended = writing(() => store.end(check));
    return { stdout: ended ? `maintenance of ${check} ended\n` : `${check} had no maintenance window open\n`, code: 0 };
  }
  const window = writing(() => store.start(check, seconds!, request.reason ?? ""));
  return { stdout: `${check} in maintenance for ${formatDuration(seconds!)}, until ${when(window)}${window.reason ? `: ${window.reason}` : ""}\n`, code: 0 };
}

/** "weekly-db  0 4 * * 0 (Europe/Paris), 1h: app:*, postgresql — next Sun 2026-12-06 04:00 Europe/Paris; open until …" */
export function recurringLine(view: RecurringView): string {
  const next = view.next === null ? "no next run" : `next ${localTime(new Date(view.next), view.tz)}`;
  const open = view.open ? `; open now, until ${localTime(new Date(view.open.until), view.tz)}` : "";
  return `${view.id}  "${view.schedule}" (${view.tz}) for ${formatDuration(view.duration_seconds)}: ${view.checks.join(", ")} — ${next}${open}${view.reason ? `  ${view.reason}` : ""}`;
}
