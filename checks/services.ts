// The platform's own services: Hop3 server, Nginx, the uWSGI Emperor. Checked by systemd unit
// where systemd runs, else by process name or pidfile. Configured only where this host has the
// unit or the config names a process or pidfile.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { HealthCheck, HealthCheckResult, Plugin, PluginContext } from "../src/health/model.js";
import { isNamed, processTable, readProcess, type ProcessInfo } from "../src/hop3/processes.js";

const settings = z.strictObject({
  systemd_unit: z.string().min(1).optional(),
  process: z.string().min(1).optional(),
  pidfile: z.string().min(1).optional(),
});
type ServiceSettings = z.infer<typeof settings>;

const SERVICES = [
  { id: "hop3-server", name: "Hop3 Server", unit: "hop3-server" },
  { id: "nginx", name: "Nginx", unit: "nginx" },
  { id: "uwsgi-emperor", name: "uWSGI Emperor", unit: "uwsgi-hop3" },
] as const;

function systemdRuns(): boolean {
  return existsSync("/run/systemd/system");
}

function systemctl(args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("systemctl", args, { timeout: 10_000, ...(signal ? { signal } : {}) }, (error, stdout) => {
      // `is-active` exits non-zero for an inactive unit and still says which state it is in.
      if (error && !stdout) reject(new Error(`systemctl ${args.join(" ")}: ${error.message}`));
      else resolve(stdout.trim());
    });
  });
}

async function processesNamed(name: string): Promise<ProcessInfo[]> {
  return (await processTable()).filter((info) => isNamed(info, name));
}

async function byPidfile(pidfile: string, name: string | undefined): Promise<[boolean, string]> {
  let text: string;
  try {
    text = await readFile(pidfile, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return [false, code === "ENOENT" ? `not running (no pidfile ${pidfile})` : `not running? pidfile ${pidfile} cannot be read: ${code}`];
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return [false, `not running? pidfile ${pidfile} holds no pid`];
  const info = await readProcess(pid);
  if (!info || info.zombie) return [false, `not running (pid ${pid} from ${pidfile} is gone)`];
  if (name && !isNamed(info, name)) return [false, `not running (pid ${pid} from ${pidfile} is "${info.comm}", not ${name})`];
  return [true, `running (pid ${pid})`];
}

async function byProcess(name: string): Promise<[boolean, string]> {
  const found = await processesNamed(name);
  if (found.length === 0) return [false, `not running (no process named ${name})`];
  const pids = found.map((p) => p.pid).sort((a, b) => a - b);
  return [true, pids.length === 1 ? `running (pid ${pids[0]})` : `running (${pids.length} processes, pids ${pids.slice(0, 5).join(", ")}${pids.length > 5 ? ", …" : ""})`];
}

function serviceCheck(ctx: PluginContext, service: (typeof SERVICES)[number]): HealthCheck {
  const config = (): ServiceSettings => ctx.configFor<ServiceSettings>(service.id);
  return {
    id: service.id,
    name: service.name,
    section: "Services",
    async isConfigured() {
      const { process: name, pidfile, systemd_unit: unit } = config();
      if (name || pidfile || unit) return true;
      if (!systemdRuns()) return false;
      return (await systemctl(["show", "--property=LoadState", "--value", `${service.unit}.service`]).catch(() => "")) === "loaded";
    },
    async check(signal): Promise<HealthCheckResult> {
      const { process: name, pidfile, systemd_unit: configuredUnit } = config();
      let running: boolean;
      let message: string;
      const details: Record<string, unknown> = {};
      if (pidfile) {
        [running, message] = await byPidfile(pidfile, name);
        details.pidfile = pidfile;
      } else if (name) {
        [running, message] = await byProcess(name);
        details.process = name;
      } else {
        const unit = configuredUnit ?? service.unit;
        details.systemd_unit = unit;
        if (!systemdRuns()) {
          running = false;
          message = `cannot check unit ${unit}: systemd is not running here (set process or pidfile)`;
        } else {
          const state = await systemctl(["is-active", unit], signal);
          running = state === "active";
          message = running ? "running" : `not running (${unit}: ${state || "unknown"})`;
        }
      }
      return { name: service.name, passed: running, message, details };
    },
  };
}

const plugin: Plugin = {
  name: "services",
  settings: Object.fromEntries(SERVICES.map((s) => [s.id, settings])),
  getHealthChecks: (ctx) => SERVICES.map((service) => serviceCheck(ctx, service)),
};

export default plugin;
