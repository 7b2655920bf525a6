// hop3-server.toml: present under HOP3_ROOT, valid TOML, and setting the secret key Hop3 signs
// its tokens with. The key's value is never read out.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";
import type { HealthCheckResult, Plugin } from "../src/health/model.js";

const SECRET_KEYS = new Set(["hop3_secret_key", "secret_key"]);

/** Whether a non-empty secret key is set anywhere in the file (top level or a table). */
function hasSecretKey(table: unknown): boolean {
  if (typeof table !== "object" || table === null) return false;
  return Object.entries(table).some(([key, value]) =>
    SECRET_KEYS.has(key.toLowerCase()) ? typeof value === "string" && value.trim() !== "" : !Array.isArray(value) && hasSecretKey(value),
  );
}

const settings = z.strictObject({ path: z.string().min(1).optional() });

const plugin: Plugin = {
  name: "server-config",
  settings: { "server-config": settings },
  getHealthChecks: (ctx) => [
    {
      id: "server-config",
      name: "Server config",
      section: "Configuration",
      isConfigured: () => true,
      async check(): Promise<HealthCheckResult> {
        const configured = ctx.configFor<{ path?: string }>("server-config").path;
        const file = configured ?? path.join(ctx.hop3Root, "hop3-server.toml");
        const fail = (message: string): HealthCheckResult => ({ name: "Server config", passed: false, message, details: { path: file } });
        let text: string;
        try {
          text = await readFile(file, "utf8");
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          return fail(code === "ENOENT" ? `missing (${file})` : `cannot be read: ${code ?? String(error)} (${file})`);
        }
        let parsed: unknown;
        try {
          parsed = parseToml(text);
        } catch (error) {
          const where = error instanceof TomlError ? `:${error.line}:${error.column}` : "";
          return fail(`not valid TOML (${file}${where})`);
        }
        if (!hasSecretKey(parsed)) return fail(`HOP3_SECRET_KEY is not set (required for authentication) in ${file}`);
        return { name: "Server config", passed: true, message: `present, secret key set (${file})`, details: { path: file } };
      },
    },
  ],
};

export default plugin;
