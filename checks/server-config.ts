// Hop3's server configuration, found where that server keeps it: HOP3_ROOT/hop3-server.toml (valid
// TOML when present), and the secret key Hop3 signs its tokens with, where Hop3 looks for it (ADR
// 048): HOP3_ETC_DIR/secret-key, else HOP3_SECRET_KEY in the environment (systemd's
// EnvironmentFile /etc/default/hop3, or this process's), else in hop3-server.toml. Older servers
// keep no hop3-server.toml at all (their settings live in the environment): its absence alone is
// no failure. It says where; the key itself is never read out. A file hop3-health may not read is
// said to be so, not taken for a missing key.

import path from "node:path";
import * as z from "#zod";
import { nonEmpty } from "../src/config/schema.js";
import type { HealthCheckResult, Plugin, Severity } from "../src/health/model.js";
import { environmentHasKey, etcFile, readSecretFile } from "../src/hop3/etc.js";
import { hop3RootState, readServerTomlFile, SERVER_TOML, stringValue } from "../src/hop3/server-toml.js";

const settings = z.strictObject({ path: z.optional(nonEmpty()) });
const NAME = "Server config";

const plugin: Plugin = {
  name: "server-config",
  settings: { "server-config": settings },
  getHealthChecks: (ctx) => [
    {
      id: "server-config",
      name: NAME,
      section: "Configuration",
      // An explicit path is always checked; the default one only where Hop3 is installed.
      isConfigured: async () => ctx.configFor<{ path?: string }>("server-config").path !== undefined || (await hop3RootState(ctx.hop3Root)) === "installed",
      async check(): Promise<HealthCheckResult> {
        const file = ctx.configFor<{ path?: string }>("server-config").path ?? path.join(ctx.hop3Root, SERVER_TOML);
        const keyFile = etcFile(ctx.hop3EtcDir, "secret-key");
        const result = (severity: Severity, message: string, details: Record<string, unknown> = {}): HealthCheckResult => ({
          name: NAME,
          passed: severity === "ok",
          severity,
          message,
          details: { path: file, secret_key_file: keyFile, ...details },
        });
        const toml = await readServerTomlFile(file);
        if (toml.problem?.kind === "invalid" || toml.problem?.kind === "unreadable") return result("fail", toml.problem.message, { reason: "config" });
        const key = await readSecretFile(keyFile);
        if (toml.problem?.kind === "missing") {
          // An older server: its settings are in the environment. Only a named file that is missing fails.
          if (ctx.configFor<{ path?: string }>("server-config").path !== undefined) return result("fail", toml.problem.message, { reason: "config" });
          const envFile = path.join(path.dirname(ctx.hop3EtcDir), "default", "hop3");
          const from = key.value !== undefined ? keyFile : (await environmentHasKey(envFile)) ? envFile : process.env.HOP3_SECRET_KEY ? "this process's environment" : undefined;
          return result(
            "ok",
            `no ${path.basename(file)}: settings kept in the environment (as older Hop3 servers keep them)${from !== undefined ? `; secret key set in ${from}` : ""}`,
            { settings_from: "environment", ...(from !== undefined ? { secret_key_from: from } : {}) },
          );
        }
        if (key.value !== undefined) {
          const also = toml.problem?.kind === "denied" ? `; ${toml.problem.message}` : "";
          return result(also ? "warn" : "ok", `present, secret key set in ${keyFile}${also}`, { secret_key_from: keyFile, ...(also ? { reason: "permission" } : {}) });
        }
        if (toml.problem?.kind === "denied") return result("warn", toml.problem.message, { reason: "permission" });
        if (stringValue(toml, "HOP3_SECRET_KEY") !== undefined) {
          return result("ok", `present, secret key set in ${file} (HOP3_SECRET_KEY, as older servers keep it)`, { secret_key_from: `${file} HOP3_SECRET_KEY` });
        }
        if (key.problem?.kind === "denied") return result("warn", key.problem.message, { reason: "permission" });
        return result("fail", `HOP3_SECRET_KEY is not set (required for authentication): not in ${keyFile}, nor in ${file}`, { reason: "config" });
      },
    },
  ],
};

export default plugin;
