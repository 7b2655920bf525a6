// The platform's own services: Hop3 server, Nginx, the uWSGI Emperor and Hop3 rootd, as Hop3
// installs them (HOP3-SERVER.md §4): systemd units where PID 1 is systemd (rootd is
// socket-activated: its socket unit active and its socket there), else supervisor programs (the
// names of both of Hop3's supervisor layouts), else the process name or pidfile the config gives.
// Configured only where this host has the unit or program, or the config names one.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import * as z from "#zod";
import { nonEmpty } from "../src/config/schema.js";
import type { HealthCheck, HealthCheckResult, Plugin, PluginContext } from "../src/health/model.js";
import { isNamed, processTable, readProcess, type ProcessInfo } from "../src/hop3/processes.js";
import { supervisorPrograms, systemctl } from "../src/hop3/service-managers.js";

const settings = z.strictObject({
  systemd_unit: z.optional(nonEmpty()),
  process: z.optional(nonEmpty()),
  pidfile: z.optional(nonEmpty()),
  /** hop3-rootd only: the socket deploys talk to. */
  socket: z.optional(nonEmpty()),
});
type ServiceSettings = z.infer<typeof settings>;

interface Service {
  id: string;
  name: string;
  /** The systemd unit, with its type. */
  unit: string;
  /** Supervisor program names, in Hop3's two layouts. */
  programs: readonly string[];
  /** A socket that must be there while the service is up. */
  socket?: string;
}

const SERVICES: readonly Service[] = [
  { id: "hop3-server", name: "Hop3 Server", unit: "hop3-server.service", programs: ["hop3-server"] },
  { id: "nginx", name: "Nginx", unit: "nginx.service", programs: ["nginx"] },
  { id: "uwsgi-emperor", name: "uWSGI Emperor", unit: "uwsgi-hop3.service", programs: ["uwsgi-hop3", "uwsgi"] },
  // Deploys need it; Hop3's own status forgets it.
  { id: "hop3-rootd", name: "Hop3 rootd", unit: "hop3-rootd.socket", programs: ["hop3-rootd"], socket: "/run/hop3-rootd/socket" },
];

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

/** A supervisor program's state: RUNNING is running, anything else says why not. */
async function bySupervisor(service: Service): Promise<[boolean, string, string | undefined]> {
  const programs = await supervisorPrograms();
  const name = service.programs.find((p) => programs?.has(p));
  const status = name === undefined ? undefined : programs?.get(name);
  if (!status) return [false, `not running (no supervisor program ${service.programs.join(" or ")})`, undefined];
  if (status.state === "RUNNING") return [true, `running${status.info ? ` (${status.info})` : ""}`, name];
  return [false, `not running (supervisor: ${status.state}${status.info ? ` ${status.info}` : ""})`, name];
}

function serviceCheck(ctx: PluginContext, service: Service): HealthCheck {
  const config = (): ServiceSettings => ctx.configFor<ServiceSettings>(service.id);
  return {
    id: service.id,
    name: service.name,
    section: "Services",
    async isConfigured() {
      const { process: name, pidfile, systemd_unit: unit } = config();
      if (name || pidfile || unit) return true;
      const manager = await ctx.serviceManager();
      if (manager === "systemd") return (await systemctl(["show", "--property=LoadState", "--value", service.unit]).catch(() => "")) === "loaded";
      if (manager === "supervisor") {
        const programs = await supervisorPrograms();
        return service.programs.some((p) => programs?.has(p) ?? false);
      }
      return false;
    },
    async check(signal): Promise<HealthCheckResult> {
      const { process: name, pidfile, systemd_unit: configuredUnit, socket: configuredSocket } = config();
      let running: boolean;
      let message: string;
      const details: Record<string, unknown> = {};
      const manager = await ctx.serviceManager();
      if (pidfile) {
        [running, message] = await byPidfile(pidfile, name);
        details.pidfile = pidfile;
      } else if (name) {
        [running, message] = await byProcess(name);
        details.process = name;
      } else if (manager === "supervisor" && configuredUnit === undefined) {
        let program: string | undefined;
        [running, message, program] = await bySupervisor(service);
        details.supervisor_program = program ?? null;
      } else {
        const unit = configuredUnit ?? service.unit;
        details.systemd_unit = unit;
        if (manager !== "systemd") {
          running = false;
          message = `cannot check unit ${unit}: systemd is not running here (set process or pidfile)`;
        } else {
          const state = await systemctl(["is-active", unit], signal);
          running = state === "active";
          message = running ? "running" : `not running (${unit}: ${state || "unknown"})`;
          const socket = configuredSocket ?? service.socket;
          if (running && socket !== undefined) {
            details.socket = socket;
            if (!existsSync(socket)) {
              running = false;
              message = `not usable: ${unit} is active but its socket ${socket} is missing (deploys need it)`;
            }
          }
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
