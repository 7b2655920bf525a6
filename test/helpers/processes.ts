// Child processes the tests start: Prometheus, Alertmanager, redis-server, test apps.

import { spawn, type ChildProcess } from "node:child_process";
import { eventually } from "./exporter.js";

/** Kills a child (SIGKILL unless told otherwise) and resolves once it has exited. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once("exit", () => resolve());
      child.kill(signal);
    }
  });
}

/** Starts a daemon and waits until `ready` answers 2xx (or says so); its output is shown if it never does. */
export async function startDaemon(command: string, args: string[], cwd: string, ready: string | (() => Promise<boolean>), what: string): Promise<ChildProcess> {
  const output: string[] = [];
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], cwd });
  child.stdout.on("data", (c: Buffer) => output.push(c.toString()));
  child.stderr.on("data", (c: Buffer) => output.push(c.toString()));
  try {
    const isReady = typeof ready === "string" ? async () => (await fetch(ready)).ok : ready;
    await eventually(async () => child.exitCode === null && (await isReady()), 30_000, `${what} to be ready`);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${error instanceof Error ? error.message : "failed"}\n${output.join("")}`);
  }
  return child;
}
