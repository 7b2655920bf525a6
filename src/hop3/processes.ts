// The process table, read from /proc: what the service checks and the app reconciliation ask
// about. Checks that run side by side share one reading (it is reused for half a second).

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";

export interface ProcessInfo {
  pid: number;
  comm: string;
  argv: string[];
  /** The working directory, when it can be read (another user's needs privileges). */
  cwd?: string;
  zombie: boolean;
}

/** /proc/<pid>/cmdline is read up to this many bytes: enough for any command a check looks at. */
const MAX_CMDLINE = 8192;

/**
 * One process, from /proc. Read synchronously: a /proc file answers at once, and a sync read
 * costs a few microseconds where an async one takes four trips through the thread pool.
 */
export function readProcessSync(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    let cwd: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // Another user's process, unless this one runs as root.
    }
    const close = stat.lastIndexOf(")");
    const state = stat.slice(close + 2, close + 3);
    return {
      pid,
      comm: stat.slice(stat.indexOf("(") + 1, close),
      argv: cmdline.slice(0, MAX_CMDLINE).split("\0").filter((a) => a !== ""),
      ...(cwd !== undefined ? { cwd } : {}),
      zombie: state === "Z" || state === "X",
    };
  } catch {
    return undefined;
  }
}

export function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  return Promise.resolve(readProcessSync(pid));
}

/** Processes read between two turns of the event loop, so a large table never holds it for long. */
const BATCH = 64;

async function readProcessTable(): Promise<ProcessInfo[]> {
  const pids = readdirSync("/proc").filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => pid !== process.pid);
  const infos: ProcessInfo[] = [];
  for (let i = 0; i < pids.length; i += BATCH) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const pid of pids.slice(i, i + BATCH)) {
      const info = readProcessSync(pid);
      if (info !== undefined && !info.zombie) infos.push(info);
    }
  }
  return infos;
}

let table: { readAt: number; processes: Promise<ProcessInfo[]> } | undefined;
const TABLE_MAX_AGE_MS = 500;

/** Every live process but this one, from a reading at most half a second old. */
export function processTable(): Promise<ProcessInfo[]> {
  if (!table || Date.now() - table.readAt > TABLE_MAX_AGE_MS) table = { readAt: Date.now(), processes: readProcessTable() };
  return table.processes;
}

const INTERPRETERS = /^(python[\d.]*|node|perl|ruby|sh|bash|dash|uwsgi)$/;

/** Whether a process is the program `name`: by its command name, argv[0], or the script an interpreter runs. */
export function isNamed(info: ProcessInfo, name: string): boolean {
  const argv0 = path.basename(info.argv[0] ?? "");
  if (info.comm === name.slice(0, 15) || argv0 === name || argv0.split(":")[0] === name) return true;
  return INTERPRETERS.test(argv0) && info.argv.slice(1).some((arg, i) => i < 3 && path.basename(arg) === name);
}

/**
 * The apps a process may belong to, as Hop3's reaper decides (HOP3-SERVER.md §3): uWSGI's
 * procname prefix `<app>:` on its command line, or `apps/<app>/` in its command line or working
 * directory. Tighter than Hop3's substring tests: the prefix must start the command line, and
 * the folder must be this HOP3_ROOT's, so `xapp:` or another root's app of the same name do not
 * count. The caller keeps the names that are apps.
 */
export function appsOfProcess(info: ProcessInfo, appsDir: string): string[] {
  const found: string[] = [];
  const cmdline = info.argv.join(" ");
  const colon = cmdline.indexOf(":");
  if (colon > 0) found.push(cmdline.slice(0, colon));
  const folder = appsDir.endsWith(path.sep) ? appsDir : appsDir + path.sep;
  for (let at = cmdline.indexOf(folder); at !== -1; at = cmdline.indexOf(folder, at + 1)) {
    found.push(cmdline.slice(at + folder.length).split(/[/\s]/, 1)[0]!);
  }
  if (info.cwd?.startsWith(folder)) found.push(info.cwd.slice(folder.length).split("/", 1)[0]!);
  return found;
}
