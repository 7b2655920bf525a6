// The process table, read from /proc: what the service checks and the app reconciliation ask
// about. Checks that run side by side share one reading (it is reused for half a second).
// Every file of a process is read with a byte limit first: any local user controls its own
// command line, and a megabyte of it a thousand times over must cost nothing more than 4 KiB does.

import { closeSync, openSync, readdirSync, readlinkSync, readSync } from "node:fs";
import path from "node:path";

export interface ProcessInfo {
  pid: number;
  /** The parent's pid (0 when unknown). */
  ppid: number;
  comm: string;
  argv: string[];
  /** When it started, in clock ticks after boot: a pid reused by another process has another start. */
  startTicks: number;
  /** The working directory, when it can be read (another user's needs privileges). */
  cwd?: string;
  zombie: boolean;
}

/** /proc/<pid>/cmdline is read up to this many bytes: enough for any command a check looks at. */
export const MAX_CMDLINE = 4096;
/** /proc/<pid>/stat is one line; a command name holds at most 64 bytes. */
const MAX_STAT = 1024;

/** A task's children list is read up to this many bytes (about 9,000 pids). */
const MAX_CHILDREN = 64 * 1024;

/**
 * One buffer for every read of a /proc file, which is turned into a string at once: a buffer of
 * 64 KiB made per read was most of what a check cycle allocated (and the collector then swept).
 */
const scratch = Buffer.allocUnsafe(Math.max(MAX_CMDLINE, MAX_STAT, MAX_CHILDREN));

/** At most `max` bytes of a /proc file, or undefined when it cannot be read. Synchronous: /proc answers at once. */
export function readProcFileSync(file: string, max: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const buffer = max <= scratch.length ? scratch : Buffer.allocUnsafe(max);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, max - length, null);
      if (n === 0) break;
      length += n;
      if (length >= max) break;
    }
    return buffer.toString("latin1", 0, length);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The `flags` bit of /proc/<pid>/stat that the kernel sets on its own threads (include/linux/sched.h). */
const PF_KTHREAD = 0x00200000;

/**
 * One process, from /proc, reading no more than 4 KiB of its command line. A kernel thread (half
 * of /proc on many servers) has no command line and runs in /: its stat alone is read.
 */
export function readProcessSync(pid: number): ProcessInfo | undefined {
  const stat = readProcFileSync(`/proc/${pid}/stat`, MAX_STAT);
  if (stat === undefined) return undefined;
  const close = stat.lastIndexOf(")");
  // After the command name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime
  const fields = stat.slice(close + 2).split(" ");
  const state = fields[0] ?? "";
  const kernelThread = (Number(fields[6]) & PF_KTHREAD) !== 0;
  const cmdline = kernelThread ? "" : (readProcFileSync(`/proc/${pid}/cmdline`, MAX_CMDLINE) ?? "");
  let cwd: string | undefined;
  try {
    if (!kernelThread) cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    // Another user's process, unless this one runs as root.
  }
  return {
    pid,
    ppid: Number(fields[1]) || 0,
    comm: Buffer.from(stat.slice(stat.indexOf("(") + 1, close), "latin1").toString("utf8"),
    argv: Buffer.from(cmdline, "latin1").toString("utf8").split("\0").filter((a) => a !== ""),
    startTicks: Number(fields[19]) || 0,
    ...(cwd !== undefined ? { cwd } : {}),
    zombie: state === "Z" || state === "X",
  };
}

export function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  return Promise.resolve(readProcessSync(pid));
}

/** Whether a process exists (signal 0: nothing is sent; EPERM means it exists and is another user's). One system call, no file read. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pids of a process's children, from /proc/<pid>/task/<pid>/children (one small read), or undefined where the kernel does not say. */
export function childrenOf(pid: number): number[] | undefined {
  const text = readProcFileSync(`/proc/${pid}/task/${pid}/children`, MAX_CHILDREN);
  if (text === undefined) return undefined;
  return text.split(" ").filter((s) => s !== "").map(Number);
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

/**
 * A process and all its descendants, walked through /proc/<pid>/task/<tid>/children: for an
 * Emperor already known, its tree costs a few reads per process where the whole table costs
 * three per process of the machine. Undefined when the root is gone or was replaced (another
 * start time), or where the kernel does not list children.
 */
export async function processTree(root: number, rootStart: number): Promise<ProcessInfo[] | undefined> {
  const first = readProcessSync(root);
  if (!first || first.zombie || first.startTicks !== rootStart) return undefined;
  const found: ProcessInfo[] = [first];
  const queue = [root];
  for (let visited = 0; queue.length > 0 && visited < MAX_TREE; visited++) {
    const pid = queue.shift()!;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`).slice(0, 256);
    } catch {
      if (pid === root) return undefined;
      continue;
    }
    for (const tid of tasks) {
      const text = readProcFileSync(`/proc/${pid}/task/${tid}/children`, MAX_CHILDREN);
      if (text === undefined) {
        if (pid === root) return undefined;
        continue;
      }
      for (const child of text.split(" ")) {
        if (child === "") continue;
        const info = readProcessSync(Number(child));
        if (!info || info.zombie || info.pid === process.pid) continue;
        found.push(info);
        queue.push(info.pid);
      }
    }
    if (visited % BATCH === BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  return found;
}

/** The most processes of one tree walked: past this, the whole table is the better reading. */
const MAX_TREE = 10_000;

/** Every live process but this one, from a reading at most half a second old. */
export function processTable(): Promise<ProcessInfo[]> {
  if (!table || Date.now() - table.readAt > TABLE_MAX_AGE_MS) table = { readAt: Date.now(), processes: readProcessTable() };
  return table.processes;
}

/**
 * Whether this process sees other users' processes: root does, and anyone where /proc is not
 * mounted with hidepid (then PID 1, root's, is listed). Where it does not, no process of an app
 * is proof that it is gone.
 */
export function seesOtherUsersProcesses(): boolean {
  return process.getuid?.() === 0 || readProcFileSync("/proc/1/stat", MAX_STAT) !== undefined;
}

const INTERPRETERS = /^(python[\d.]*|node|perl|ruby|sh|bash|dash|uwsgi)$/;

/** Whether a process is the program `name`: by its command name, argv[0], or the script an interpreter runs. */
export function isNamed(info: ProcessInfo, name: string): boolean {
  const argv0 = path.basename(info.argv[0] ?? "");
  if (info.comm === name.slice(0, 15) || argv0 === name || argv0.split(":")[0] === name) return true;
  return INTERPRETERS.test(argv0) && info.argv.slice(1).some((arg, i) => i < 3 && path.basename(arg) === name);
}

/**
 * The apps a process may belong to by what it says of itself, as Hop3's reaper decides
 * (uWSGI's procname prefix `<app>:` starting its command line, or `apps/<app>/` in its command
 * line or working directory). Any process can say any of it: this is a hint, used only where no
 * uWSGI Emperor of this HOP3_ROOT is visible (src/hop3/emperor.ts gives proof where one is).
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
