// The state directory: where serve keeps what it writes (event log, heartbeats, maintenance
// windows, heartbeat tokens, the restart lock) and the operator socket. `state_dir` when set;
// else $STATE_DIRECTORY (what systemd's StateDirectory= made); else /var/lib/hop3-health when this
// user may write it (or make it), or reach the exporter's socket in it (an operator in its group);
// else $XDG_STATE_HOME/hop3-health. Never inside HOP3_ROOT unless configured: the apps' owner can
// write there. Whoever may write into it may act as the operator, so serve refuses one that
// another user can write.

import { accessSync, constants, lstatSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Config } from "../config/schema.js";
import { ConfigError } from "../lib/errors.js";

export const SYSTEM_STATE_DIR = "/var/lib/hop3-health";

/** The files in it, by what they hold. */
export const STATE_FILES = {
  events: "events.jsonl",
  heartbeats: "heartbeats.json",
  maintenance: "maintenance.json",
  tokens: "heartbeat-tokens.json",
  restarts: "restarts.json",
  lock: "restarts.lock",
  socket: "operator.sock",
} as const;

function writable(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The state directory this configuration names or implies (nothing is created). */
export function stateDirOf(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  if (config.state_dir !== undefined) return path.resolve(config.state_dir);
  const systemd = env.STATE_DIRECTORY?.split(":")[0];
  if (systemd && path.isAbsolute(systemd)) return systemd;
  let system: ReturnType<typeof lstatSync> | undefined;
  try {
    system = lstatSync(SYSTEM_STATE_DIR);
  } catch {
    system = undefined;
  }
  if (system === undefined ? writable(path.dirname(SYSTEM_STATE_DIR)) : system.isDirectory() && (writable(SYSTEM_STATE_DIR) || writable(path.join(SYSTEM_STATE_DIR, STATE_FILES.socket)))) {
    return SYSTEM_STATE_DIR;
  }
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME ?? os.homedir(), ".local", "state");
  return path.join(base, "hop3-health");
}

/** A file of the state directory. */
export function stateFile(config: Config, name: keyof typeof STATE_FILES, env?: NodeJS.ProcessEnv): string {
  if (name === "events" && config.events !== undefined) return path.resolve(config.events);
  return path.join(stateDirOf(config, env), STATE_FILES[name]);
}

/**
 * Makes the state directory (0750) when missing, and refuses one that is not a directory, not
 * this user's, or writable by another user: whoever can write there could plant files and
 * speak for the operator. Returns the directory.
 */
export function prepareStateDir(config: Config, env?: NodeJS.ProcessEnv): string {
  const dir = stateDirOf(config, env);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`state directory ${dir} cannot be created (${code}): create it for this user (install -d -m 0750 ${dir}) or set state_dir (HOP3_HEALTH_STATE_DIR)`);
  }
  const stat = lstatSync(dir);
  const uid = process.getuid?.() ?? stat.uid;
  const fix = `(chown ${os.userInfo().username} ${dir} && chmod 0750 ${dir}), or set state_dir (HOP3_HEALTH_STATE_DIR)`;
  if (!stat.isDirectory()) throw new ConfigError(`state directory ${dir} is not a directory (a link?): make it a directory ${fix}`);
  if (stat.uid !== uid) throw new ConfigError(`state directory ${dir} belongs to uid ${stat.uid}, not to this user (uid ${uid}): ${fix}`);
  if ((stat.mode & 0o022) !== 0) {
    throw new ConfigError(`state directory ${dir} can be written by other users (mode ${(stat.mode & 0o7777).toString(8).padStart(4, "0")}): whoever writes there could act as the operator; ${fix}`);
  }
  if (!writable(dir)) throw new ConfigError(`state directory ${dir} is not writable by this user: ${fix}`);
  return dir;
}
