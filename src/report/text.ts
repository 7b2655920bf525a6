// The terminal report, and its one-line `--quiet` form.

import type { Severity } from "../health/model.js";
import type { CheckOutcome } from "../health/outcome.js";
import { localTime } from "../engine/calendar.js";
import { formatDuration } from "../lib/duration.js";
import { afterDetail, identityLine, summaryText, SYMBOLS, type Report, type ScheduledWindow } from "./report.js";

const COLOURS: Record<Severity, string> = { ok: "\x1b[32m", warn: "\x1b[33m", fail: "\x1b[31m" };
const BOLD = "\x1b[1m";
const RESET = "\x1b[0m";

export function renderText(report: Report, options: { colour: boolean }): string {
  const paint = (severity: Severity, text: string): string => (options.colour ? `${COLOURS[severity]}${text}${RESET}` : text);
  const bold = (text: string): string => (options.colour ? `${BOLD}${text}${RESET}` : text);
  const lines = [identityLine(report.identity)];
  for (const section of report.sections) {
    lines.push("", bold(section.title));
    const width = Math.max(15, ...section.items.map((i) => printable(i.name).length));
    for (const item of section.items) {
      lines.push(`  ${printable(item.name).padEnd(width)} ${paint(item.severity, `${SYMBOLS[item.severity]} ${oneLine(item.detail)}${printable(afterDetail(item))}`)}`);
    }
  }
  if (report.sections.length === 0) lines.push("", "No checks are configured on this server.");
  lines.push("", `Status: ${paint(report.overall, summaryText(report))}`);
  for (const window of report.scheduled ?? []) lines.push(scheduledLine(window));
  return `${lines.join("\n")}\n`;
}

/** `OK`, or `DEGRADED: <name> <detail>; ...`, or `FAILED: ...`, failures first. */
export function renderQuiet(report: Report, options: { perfdata?: boolean; single?: boolean } = {}): string {
  const items = report.sections.flatMap((s) => s.items);
  const perf = options.perfdata ? ` | ${renderPerfdata(items)}` : "";
  // One check (status --check): its name and message whatever its severity, as a Nagios plugin says it.
  const said = options.single ? items : [...items.filter((i) => i.severity === "fail"), ...items.filter((i) => i.severity === "warn")];
  const label = report.overall === "fail" ? "FAILED" : report.overall === "warn" ? "DEGRADED" : "OK";
  if (said.length === 0) return `${label}${perf}\n`;
  return `${label}: ${said.map((i) => `${printable(i.name)} ${oneLine(i.detail)}${printable(afterDetail(i))}`.trim()).join("; ")}${perf}\n`;
}

function oneLine(text: string): string {
  return printable(text.replace(/\s*\n\s*/g, " ").trim());
}

/**
 * Control characters (an escape sequence in an app's folder name, say) shown as \xNN, never sent
 * raw to a terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is looked for
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Colours only on a terminal, never with NO_COLOR (https://no-color.org) or --no-color. */
export function wantsColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, noColorFlag: boolean): boolean {
  return Boolean(stream.isTTY) && !noColorFlag && !(env.NO_COLOR !== undefined && env.NO_COLOR !== "");
}

/**
 * Performance data as the Nagios plugin guidelines write it, after the `|` of a plugin's output:
 * `'disk_usage'=84%;80;90;0;100 'disk-usage_duration'=0.002s;;;0`, the measurements that say how
 * (Measurement.perf) and every check's duration.
 */
export function renderPerfdata(items: readonly CheckOutcome[]): string {
  const data: string[] = [];
  for (const item of items) {
    for (const m of item.measurements) {
      if (!m.perf) continue;
      const { label, unit = "", scale = 1, warn, crit, min, max } = m.perf;
      data.push(datum(label, m.value * scale, unit, [warn, crit, min, max]));
    }
  }
  for (const item of items) data.push(datum(`${item.check}_duration`, item.durationSeconds, "s", [undefined, undefined, 0, undefined]));
  return data.join(" ");
}

function datum(label: string, value: number, unit: string, limits: Array<number | undefined>): string {
  const number = (n: number | undefined): string => (n === undefined ? "" : String(Number(n.toFixed(6))));
  const quoted = `'${printable(label).replaceAll("'", "''")}'`;
  return `${quoted}=${number(value)}${unit};${limits.map(number).join(";")}`.replace(/;+$/, "");
}

/** "Maintenance weekly-db (app:*, postgresql): next Sun 2026-12-06 04:00 Europe/Paris for 1h", or "open until …". */
function scheduledLine(window: ScheduledWindow): string {
  const when = window.open
    ? `open now, until ${localTime(new Date(window.open.until), window.tz)}`
    : window.next === null
      ? "no next run"
      : `next ${localTime(new Date(window.next), window.tz)} for ${formatDuration(window.duration_seconds)}`;
  return printable(`Maintenance ${window.id} (${window.checks.join(", ")}): ${when}`);
}
