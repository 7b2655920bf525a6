// Operator commands that speak to the running exporter: `reload`, and `heartbeats` (each job's ping URL).

import { createEngine } from "../engine/engine.js";
import { HeartbeatTokens } from "../engine/heartbeat-tokens.js";
import { stateFile } from "../engine/state-dir.js";
import { InputError } from "../lib/errors.js";
import { parseListen } from "../lib/net.js";
import { didYouMean } from "../lib/suggest.js";
import { askExporter, errorOf } from "./operator-client.js";
import type { CommandOutput } from "./output.js";

/** `hop3-health reload`: as SIGHUP, and says whether the new configuration was taken. */
export async function reload(options: { config?: string }): Promise<CommandOutput> {
  const engine = await createEngine({ file: options.config, logLevel: "silent" });
  const answer = await askExporter(engine.config, "POST", "/-/reload", undefined, 60);
  if (!answer) throw new InputError(`no exporter answered on its operator socket ${stateFile(engine.config, "socket")} (not running, or this user may not reach it)`);
  if (answer.status !== 200) return { stdout: `${errorOf(answer)}\n`, code: 2 };
  return { stdout: `${(answer.body as { message?: string }).message ?? "reloaded"}\n`, code: 0 };
}

/** `hop3-health restarts reset APP`: the restart policy acts again on the app. */
export async function resetRestarts(app: string, options: { config?: string }): Promise<CommandOutput> {
  const engine = await createEngine({ file: options.config, logLevel: "silent" });
  const answer = await askExporter(engine.config, "POST", "/api/v1/restarts/reset", { app }, 30);
  if (!answer) throw new InputError(`no exporter answered on its operator socket ${stateFile(engine.config, "socket")} (not running, or this user may not reach it)`);
  if (answer.status !== 200) throw new InputError(errorOf(answer));
  const body = answer.body as { reset: boolean; policy: string };
  if (body.policy === "never") return { stdout: `${app} has no restart policy (never): nothing to reset\n`, code: 0 };
  return { stdout: body.reset ? `restart policy of ${app} reset: it acts again from a fresh backoff\n` : `the restart policy had done nothing about ${app}: nothing to reset\n`, code: 0 };
}

/** `hop3-health heartbeats [ID]`: each job's ping URL, made the first time it is asked for when this user may write the tokens. */
export async function heartbeats(id: string | undefined, options: { config?: string }): Promise<CommandOutput> {
  const engine = await createEngine({ file: options.config, logLevel: "silent" });
  const { config } = engine;
  const configured = Object.keys(config.heartbeats);
  if (configured.length === 0) return { stdout: "no heartbeat is configured ([heartbeats.<id>] every = \"1d\" in the config)\n", code: 0 };
  if (id !== undefined && !configured.includes(id)) throw new InputError(`no heartbeat ${JSON.stringify(id)} is configured${didYouMean(id, configured)} (configured: ${configured.join(", ")})`);
  const tokens = new HeartbeatTokens(stateFile(config, "tokens"));
  try {
    tokens.load(configured, true);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code !== "EACCES" && code !== "EPERM" && code !== "EROFS") throw new InputError(`heartbeat tokens ${tokens.file}: ${code}`);
    try {
      tokens.load(configured, false);
    } catch {
      throw new InputError(`heartbeat tokens ${tokens.file} cannot be read (${code}): run this as the exporter's user (or root)`);
    }
  }
  const { host, port } = parseListen(config.listen);
  const where = host === undefined || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const base = `${config.web.tls_cert_file ? "https" : "http"}://${where}:${port}/api/v1/heartbeats`;
  const ids = id === undefined ? configured : [id];
  const width = Math.max(...ids.map((i) => i.length));
  const lines = ids.map((i) => {
    const token = tokens.tokenOf(i);
    return `${i.padEnd(width)}  ${token === undefined ? "(no token yet: start the exporter, or run this as its user)" : `${base}/${i}/${token}`}`;
  });
  const hint = "A job reports in with: curl -fsS -m 10 --retry 3 URL   (a failure: URL?status=fail&message=...)";
  return { stdout: `${lines.join("\n")}\n\n${hint}\n`, code: 0 };
}
