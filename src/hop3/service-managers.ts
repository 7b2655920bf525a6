// How Hop3's services run on this host (HOP3-SERVER.md §4): systemd units where PID 1 is
// systemd (Hop3's installer tests /proc/1/comm), else supervisor programs (Hop3's Docker images),
// asked through `systemctl` and `supervisorctl` as an operator would.

import { existsSync, readFileSync } from "node:fs";
import { runCommand } from "../lib/limit.js";
import { isNamed, processTable } from "./processes.js";

export type ServiceManager = "systemd" | "supervisor" | "none";

/** `systemctl ARGS`'s answer; `is-active` exits non-zero for an inactive unit and still says which state it is in. */
export async function systemctl(args: string[], signal?: AbortSignal): Promise<string> {
  const { stdout, failed } = await runCommand("systemctl", args, { timeoutMs: 10_000, signal });
  if (failed && stdout.trim() === "") throw new Error(`systemctl ${args.join(" ")}: ${failed.message}`);
  return stdout.trim();
}

export interface ProgramStatus {
  /** RUNNING, STOPPED, STARTING, BACKOFF, STOPPING, EXITED, FATAL or UNKNOWN. */
  state: string;
  /** The rest of the line: "pid 123, uptime 0:01:02", or why it stopped. */
  info: string;
}

const PROGRAM_LINE = /^(\S+)\s+(STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL|UNKNOWN)\b\s*(.*)$/;

/** `supervisorctl status` as a map of program (a grouped one also by its name alone) to state; null when supervisor does not answer. */
async function readSupervisor(signal?: AbortSignal): Promise<Map<string, ProgramStatus> | null> {
  const { stdout } = await runCommand("supervisorctl", ["status"], { timeoutMs: 10_000, signal });
  const programs = new Map<string, ProgramStatus>();
  for (const line of stdout.split("\n")) {
    const match = PROGRAM_LINE.exec(line.trim());
    if (!match) continue;
    const status = { state: match[2]!, info: match[3]!.trim() };
    programs.set(match[1]!, status);
    const grouped = match[1]!.indexOf(":");
    if (grouped > 0 && !programs.has(match[1]!.slice(grouped + 1))) programs.set(match[1]!.slice(grouped + 1), status);
  }
  return programs.size > 0 ? programs : null;
}

let supervisor: { readAt: number; programs: Promise<Map<string, ProgramStatus> | null> } | undefined;

/** The supervisor programs, from one `supervisorctl status` shared by the checks of a cycle. */
export function supervisorPrograms(): Promise<Map<string, ProgramStatus> | null> {
  if (!supervisor || Date.now() - supervisor.readAt > 1000) supervisor = { readAt: Date.now(), programs: readSupervisor() };
  return supervisor.programs;
}

function pid1IsSystemd(): boolean {
  try {
    return readFileSync("/proc/1/comm", "utf8").trim() === "systemd";
  } catch {
    return existsSync("/run/systemd/system");
  }
}

export async function detectServiceManager(setting: "auto" | ServiceManager): Promise<ServiceManager> {
  if (setting !== "auto") return setting;
  if (pid1IsSystemd() || existsSync("/run/systemd/system")) return "systemd";
  // supervisorctl is a Python program that takes a quarter of a second to start: asked only
  // when a supervisord runs here (a service manager in another PID namespace is set by name).
  if (!(await processTable()).some((p) => isNamed(p, "supervisord"))) return "none";
  return (await supervisorPrograms()) !== null ? "supervisor" : "none";
}
