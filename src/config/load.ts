// Reads the TOML file (if any), lays the environment over it, and validates the result.
// Every error names where the bad value came from (file or variable), the key, and why.

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import type * as z from "#zod";
import { maskUrlCredentials } from "../health/redact.js";
import { ConfigError } from "../lib/errors.js";
import { didYouMean } from "../lib/suggest.js";
import { configSchema, DEFAULTS, ENVIRONMENT, GENERIC_ENV_PREFIX, SECRET_KEY_PATTERN, type Config } from "./schema.js";


export interface LoadedConfig {
  config: Config;
  /** The file read, or null when built-in defaults and the environment are all there is. */
  file: string | null;
  /** Secret values found in the configuration, to be masked in all output. */
  secrets: string[];
  /** "config file /etc/x.toml" or "environment variable HOP3_X", for the value at a key path. */
  originOf(keyPath: readonly PropertyKey[]): string;
  /** The directory relative paths in the file are resolved against. */
  baseDir: string;
  /** Plugin specs with the directory each is relative to. */
  pluginSpecs: Array<{ spec: string; baseDir: string; origin: string }>;
}

export interface LoadOptions {
  /** `--config FILE`. */
  file?: string | undefined;
  /** How the file was given, for messages: "--config" unless said otherwise ("the check-config argument"). */
  fileGivenAs?: string;
  env?: NodeJS.ProcessEnv;
}

type Table = Record<string, unknown>;

export async function loadConfig(options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const explicit = options.file ?? nonEmpty(env.HOP3_HEALTH_CONFIG);
  const file = explicit ? path.resolve(explicit) : existsSync(DEFAULTS.config_file) ? DEFAULTS.config_file : null;

  const raw: Table = file ? await readTomlFile(file, explicit === options.file ? (options.fileGivenAs ?? "--config") : "HOP3_HEALTH_CONFIG") : {};
  const filePlugins = Array.isArray(raw.plugins) ? (raw.plugins as unknown[]) : [];
  const envOrigins = applyEnvironment(raw, env);

  const fileOrigin = file ? `config file ${file}` : "built-in defaults";
  const originOf = (keyPath: readonly PropertyKey[]): string => {
    const dotted = keyPath.map(String).join(".");
    for (const [envKey, variable] of envOrigins) {
      if (dotted === envKey || dotted.startsWith(`${envKey}.`)) return `environment variable ${variable}`;
    }
    return fileOrigin;
  };

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, raw, originOf, [], (at) => knownKeysAt(configSchema, at)));

  const baseDir = file ? path.dirname(file) : process.cwd();
  const envPlugins = splitList(env.HOP3_HEALTH_PLUGINS);
  const pluginSpecs = [
    ...filePlugins.filter((s): s is string => typeof s === "string").map((spec) => ({ spec, baseDir, origin: `${fileOrigin}: plugins` })),
    ...envPlugins.map((spec) => ({ spec, baseDir: process.cwd(), origin: "environment variable HOP3_HEALTH_PLUGINS" })),
  ];

  return { config: parsed.data, file, secrets: collectSecrets(parsed.data), originOf, baseDir, pluginSpecs };
}

async function readTomlFile(file: string, via: string): Promise<Table> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "not found" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(code ?? error);
    throw new ConfigError(`config file ${file} (from ${via}): ${why}`);
  }
  try {
    return parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const firstLine = error.message.split("\n")[0] ?? "";
      throw new ConfigError(`config file ${file}:${error.line}:${error.column}: not valid TOML: ${firstLine}`);
    }
    throw error;
  }
}

/** Lays the environment over the file's values; returns which key each variable set. */
function applyEnvironment(raw: Table, env: NodeJS.ProcessEnv): Array<[string, string]> {
  const origins: Array<[string, string]> = [];
  for (const [variable, keyPath] of Object.entries(ENVIRONMENT)) {
    const value = nonEmpty(env[variable]);
    if (value === undefined || variable === "HOP3_HEALTH_PLUGINS") continue; // plugins are added, below
    const typed = keyPath.length === 1 && (keyPath[0] === "interval" || keyPath[0] === "timeout") ? numberOrText(value) : value;
    setPath(raw, keyPath, typed);
    origins.push([keyPath.join("."), variable]);
  }
  const envPlugins = splitList(env.HOP3_HEALTH_PLUGINS);
  if (envPlugins.length > 0) {
    raw.plugins = [...(Array.isArray(raw.plugins) ? (raw.plugins as unknown[]) : []), ...envPlugins];
  }
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(GENERIC_ENV_PREFIX) || value === undefined || value === "") continue;
    const keyPath = genericKeyPath(variable.slice(GENERIC_ENV_PREFIX.length));
    if (keyPath.length === 0) continue;
    setPath(raw, keyPath, tomlValueOrText(value));
    origins.push([keyPath.join("."), variable]);
  }
  return origins;
}

/** `CHECKS__DISK_USAGE__WARN_PERCENT` → ["checks", "disk-usage", "warn_percent"]: a check id uses hyphens. */
function genericKeyPath(rest: string): string[] {
  const parts = rest.split("__").filter((p) => p !== "").map((p) => p.toLowerCase());
  if (parts[0] === "checks" && parts[1] !== undefined) parts[1] = parts[1].replaceAll("_", "-");
  return parts;
}

function setPath(target: Table, keyPath: readonly string[], value: unknown): void {
  let node = target;
  for (const key of keyPath.slice(0, -1)) {
    const child = node[key];
    if (typeof child !== "object" || child === null || Array.isArray(child)) node[key] = {};
    node = node[key] as Table;
  }
  node[keyPath[keyPath.length - 1]!] = value;
}

function getPath(source: unknown, keyPath: readonly PropertyKey[]): unknown {
  let node = source;
  for (const key of keyPath) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function numberOrText(value: string): number | string {
  return /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
}

function tomlValueOrText(value: string): unknown {
  try {
    return (parseToml(`v = ${value}`) as Table).v;
  } catch {
    return value;
  }
}

function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** One line per problem: where, which key, why; a secret's value is never shown. */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  originOf: (keyPath: readonly PropertyKey[]) => string,
  prefix: readonly PropertyKey[] = [],
  /** The keys taken at a path of the issue, for "did you mean". */
  knownKeys?: (path: readonly PropertyKey[]) => string[] | undefined,
): string {
  const lines = issues.map((issue) => {
    const keyPath = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => [...keyPath, k].map(String).join("."));
      const known = knownKeys?.(issue.path);
      const hint = issue.keys.length === 1 && known ? didYouMean(issue.keys[0]!, known) : "";
      return `${originOf(keyPath.concat(issue.keys[0] ?? []))}: unknown key${keys.length > 1 ? "s" : ""} ${keys.join(", ")}${hint}`;
    }
    const key = keyPath.map(String).join(".") || "(top level)";
    const value = getPath(raw, issue.path);
    const shown = value === undefined || keyPath.some((k) => SECRET_KEY_PATTERN.test(String(k))) ? "" : `, got ${maskUrlCredentials(JSON.stringify(value))}`;
    return `${originOf(keyPath)}: ${key}: ${issue.message}${shown}`;
  });
  return lines.join("\n");
}

/**
 * The keys a zod object schema takes at a path (through defaults, optionals, pipes and records),
 * for "did you mean"; undefined when the schema is not one zod can say that of.
 */
export function knownKeysAt(schema: unknown, keyPath: readonly PropertyKey[]): string[] | undefined {
  let node = schema as { _zod?: { def: Record<string, unknown> }; shape?: Record<string, unknown> } | undefined;
  const unwrap = (): void => {
    for (let depth = 0; depth < 10 && node?._zod; depth++) {
      const def = node._zod.def;
      if (def.type === "default" || def.type === "optional" || def.type === "nullable" || def.type === "prefault") node = def.innerType as typeof node;
      else if (def.type === "pipe") node = def.in as typeof node;
      else break;
    }
  };
  for (const key of keyPath) {
    unwrap();
    const def = node?._zod?.def;
    if (def?.type === "object") node = (def.shape as Record<string, typeof node>)[String(key)];
    else if (def?.type === "record") node = def.valueType as typeof node;
    else return undefined;
  }
  unwrap();
  return node?._zod?.def.type === "object" ? Object.keys(node._zod.def.shape as object) : undefined;
}

/** Every value under a secret-looking key, and the password of every URL with credentials. */
function collectSecrets(config: Config): string[] {
  const found: string[] = [];
  const visit = (value: unknown, key: string): void => {
    if (typeof value === "string") {
      if (SECRET_KEY_PATTERN.test(key)) found.push(value);
      const password = urlPassword(value);
      if (password) found.push(password);
    } else if (Array.isArray(value)) {
      value.forEach((v) => visit(v, key));
    } else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) visit(v, k);
    }
  };
  visit(config, "");
  return found;
}

function urlPassword(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  try {
    const password = new URL(value).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
