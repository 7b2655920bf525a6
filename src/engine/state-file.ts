// The small JSON files serve keeps beside its event log (heartbeats, maintenance windows).

import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Writes the JSON to a temporary file beside `file`, then renames it over: a reader never sees half of it. */
export function writeJsonAtomic(file: string, value: unknown, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value)}\n`, { mode });
  renameSync(temporary, file);
}

/** What a job or an operator said: one line, control characters out, at most `max` characters. */
export function oneLineOf(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is taken out
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, max);
}
