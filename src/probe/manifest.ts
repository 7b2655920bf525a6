// An app's declared health endpoint, read from its hop3.toml: `[healthcheck]` (or the legacy
// `[run] healthcheck = "/path"`) and `[run] start-timeout`, the deploy probe's window.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";

export class ManifestError extends Error {
  override name = "ManifestError";
}

export interface HealthEndpoint {
  /** Always starts with "/". */
  path: string;
  /** Text the body must contain, when set. */
  contains?: string;
  /** Seconds per request. */
  timeout: number;
  /** Seconds between continuous checks. */
  interval: number;
  /** Consecutive failures before the continuous check fails. */
  retries: number;
  /** The status that counts as healthy; any 2xx when absent. */
  expectedStatus?: number;
  /** Seconds the deploy probe waits for a first success. */
  startTimeout: number;
}

export const ENDPOINT_DEFAULTS = { timeout: 5, interval: 30, retries: 3, startTimeout: 60 } as const;

const positiveSeconds = z.number({ error: "expected a number of seconds" }).positive({ error: "must be more than 0" });

const healthcheckTable = z.strictObject({
  path: z.string({ error: "expected a path such as \"/health\"" }).min(1),
  contains: z.string().min(1).optional(),
  timeout: positiveSeconds.optional(),
  interval: positiveSeconds.optional(),
  retries: z.number().int({ error: "expected a whole number" }).min(1).optional(),
  expected_status: z.number().int().min(100).max(599).optional(),
});

/** Only the keys read here are checked in [run]; the rest of it is Hop3's business. */
const runTable = z.looseObject({
  healthcheck: z.string({ error: "expected a path such as \"/health\"" }).min(1).optional(),
  "start-timeout": positiveSeconds.optional(),
});

/** Where an app's manifest is: `hop3.toml` in its folder, else in its `src/`. */
export function manifestPath(appDir: string): string | undefined {
  return [path.join(appDir, "hop3.toml"), path.join(appDir, "src", "hop3.toml")].find((file) => existsSync(file));
}

/** The app's health endpoint, or undefined when its manifest declares none. Errors name file and key. */
export async function readHealthEndpoint(file: string): Promise<HealthEndpoint | undefined> {
  let manifest: Record<string, unknown>;
  try {
    manifest = parseToml(await readFile(file, "utf8"));
  } catch (error) {
    if (error instanceof TomlError) throw new ManifestError(`${file}:${error.line}:${error.column}: not valid TOML: ${error.message.split("\n")[0] ?? ""}`);
    throw new ManifestError(`${file}: cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const problem = (table: string, issues: ReadonlyArray<z.core.$ZodIssue>): ManifestError => {
    const lines = issues.map((issue) =>
      issue.code === "unrecognized_keys"
        ? `${file}: unknown key ${issue.keys.map((k) => `[${table}] ${k}`).join(", ")}`
        : `${file}: [${table}] ${issue.path.map(String).join(".")}: ${issue.message}`,
    );
    return new ManifestError(lines.join("\n"));
  };
  const tableAt = (key: string): unknown => manifest[key];
  const isTable = (value: unknown): boolean => typeof value === "object" && value !== null && !Array.isArray(value);

  if (tableAt("run") !== undefined && !isTable(tableAt("run"))) throw new ManifestError(`${file}: run must be a table`);
  const run = runTable.safeParse(tableAt("run") ?? {});
  if (!run.success) throw problem("run", run.error.issues);

  let declared: z.infer<typeof healthcheckTable> | undefined;
  if (tableAt("healthcheck") !== undefined) {
    if (!isTable(tableAt("healthcheck"))) throw new ManifestError(`${file}: healthcheck must be a table, such as [healthcheck] path = "/health"`);
    const healthcheck = healthcheckTable.safeParse(tableAt("healthcheck"));
    if (!healthcheck.success) throw problem("healthcheck", healthcheck.error.issues);
    declared = healthcheck.data;
  } else if (run.data.healthcheck !== undefined) {
    declared = { path: run.data.healthcheck };
  }
  if (!declared) return undefined;
  return {
    path: declared.path.startsWith("/") ? declared.path : `/${declared.path}`,
    ...(declared.contains !== undefined ? { contains: declared.contains } : {}),
    timeout: declared.timeout ?? ENDPOINT_DEFAULTS.timeout,
    interval: declared.interval ?? ENDPOINT_DEFAULTS.interval,
    retries: declared.retries ?? ENDPOINT_DEFAULTS.retries,
    ...(declared.expected_status !== undefined ? { expectedStatus: declared.expected_status } : {}),
    startTimeout: run.data["start-timeout"] ?? ENDPOINT_DEFAULTS.startTimeout,
  };
}

/** The PORT= line of the app's ENV file, if there is one. */
export async function portFromEnvFile(appDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(appDir, "ENV"), "utf8");
  } catch {
    return undefined;
  }
  const match = /^\s*(?:export\s+)?PORT\s*=\s*["']?(\d{1,5})["']?\s*$/m.exec(text);
  const port = match ? Number(match[1]) : NaN;
  return port > 0 && port <= 65535 ? port : undefined;
}
