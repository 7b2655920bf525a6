// The process table, read from /proc: what the service checks and the app reconciliation ask
// about. Checks that run side by side share one reading (it is reused for half a second).

import { readdir, readFile, readlink } from "node:fs/promises";
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

export async function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const [comm, cmdline, stat, cwd] = await Promise.all([
      readFile(`/proc/${pid}/comm`, "utf8"),
      readFile(`/proc/${pid}/cmdline`, "utf8"),
      readFile(`/proc/${pid}/stat`, "utf8"),
      readlink(`/proc/${pid}/cwd`).catch(() => undefined),
    ]);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return {
      pid,
      comm: comm.trim(),
      argv: cmdline.slice(0, MAX_CMDLINE).split("\0").filter((a) => a !== ""),
      ...(cwd !== undefined ? { cwd } : {}),
      zombie: state === "Z" || state === "X",
    };
  } catch {
    return undefined;
  }
}

async function readProcessTable(): Promise<ProcessInfo[]> {
  const pids = (await readdir("/proc")).filter((e) => /^\d+$/.test(e)).map(Number).filter((pid) => pid !== process.pid);
  const infos = await Promise.all(pids.map(readProcess));
  return infos.filter((i): i is ProcessInfo => i !== undefined && !i.zombie);
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
 * Whether a process belongs to the app, as Hop3's reaper decides (HOP3-SERVER.md §3): uWSGI's
 * procname prefix `<app>:` on its command line, or `apps/<app>/` in its command line or working
 * directory. Tighter than Hop3's substring tests: the prefix must start the command line, and
 * the folder is this HOP3_ROOT's, so `xapp:` or another root's app of the same name do not count.
 */
export function belongsToApp(info: ProcessInfo, appDir: string, app: string): boolean {
  const cmdline = info.argv.join(" ");
  if (cmdline.startsWith(`${app}:`)) return true;
  const folder = appDir.endsWith(path.sep) ? appDir : appDir + path.sep;
  if (cmdline.includes(folder)) return true;
  return info.cwd !== undefined && (info.cwd === appDir || info.cwd.startsWith(folder));
}
