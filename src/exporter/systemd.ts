// systemd's notification protocol (sd_notify), for a unit of Type=notify: READY=1 once the first
// cycle is in, WATCHDOG=1 after every cycle that completes (so that with WatchdogSec= systemd
// restarts an exporter whose cycles are stuck, not only one that died), STOPPING=1 at shutdown,
// and STATUS= the report's summary for `systemctl status`.
//
// The protocol is a datagram on a unix socket (NOTIFY_SOCKET), which Node cannot send: no unix
// datagram sockets in node:dgram, and a native addon would need a compiler on every server. The
// messages go through systemd-notify(1), which ships with systemd itself. It sends from its own
// process and then waits (a barrier, at most 5 s) until systemd has taken the message, so systemd
// can still tell whose it is: the unit needs NotifyAccess=all, and each message names this process
// (MAINPID=). A watchdog ping still on its way is not doubled; READY and STOPPING always go.

import { spawn } from "node:child_process";
import type { Logger } from "../lib/logger.js";

export interface Notifier {
  ready(status: string): void;
  watchdog(status: string): void;
  stopping(): void;
}

export function systemdNotifier(env: NodeJS.ProcessEnv, logger: Logger): Notifier | null {
  if (!env.NOTIFY_SOCKET) return null;
  // Pings are wanted when systemd set a watchdog for this process (WATCHDOG_PID, when given, is it).
  const pings = env.WATCHDOG_USEC !== undefined && (env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid);
  let warned = false;
  let pinging = false;
  const send = (assignments: string[], done?: () => void): void => {
    const child = spawn("systemd-notify", [`--pid=${process.pid}`, ...assignments], { stdio: "ignore" });
    child.once("error", (error: NodeJS.ErrnoException) => {
      if (!warned) {
        warned = true;
        logger.warn(`NOTIFY_SOCKET is set but systemd-notify cannot run (${error.code ?? error.message}): systemd is not told when hop3-health is ready`);
      }
      done?.();
    });
    child.once("exit", () => done?.());
    // Never kept alive by it: at shutdown, STOPPING=1 is on its way once sent.
    child.unref();
  };
  return {
    ready: (status) => send(["READY=1", `STATUS=${status}`]),
    watchdog: (status) => {
      if (!pings || pinging) return;
      pinging = true;
      send(["WATCHDOG=1", `STATUS=${status}`], () => (pinging = false));
    },
    stopping: () => send(["STOPPING=1", "STATUS=stopping"]),
  };
}
