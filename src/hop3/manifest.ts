// An app's hop3.toml, read as Hop3's own schema reads it (HOP3-SERVER.md §2): where it is looked
// for, `[healthcheck]` (path, contains, interval, timeout, retries; all optional, no other key),
// and `[run]` healthcheck (the legacy path), healthcheck-timeout and start-timeout. Only these are
// read; the rest of the manifest is Hop3's business. hop3-health's own per-app settings live in
// its config (`[apps.<name>]`), never here: a key Hop3 does not know makes Hop3 refuse the deploy.

import path from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { FileReadError, KiB, readBoundedFile } from "./files.js";

export class ManifestError extends Error {
  override name = "ManifestError";
  constructor(
    readonly file: string,
    /** "<key>: <reason>", or the reason alone. */
    readonly problem: string,
  ) {
    super(`manifest invalid: ${file}: ${problem}`);
  }
}

/** The most of a manifest read: a real one is a few kB. */
export const MANIFEST_MAX_BYTES = 256 * KiB;
/** The most of a path or `contains` taken from a manifest; longer ones are refused. */
export const MAX_PATH_LENGTH = 2 * KiB;
export const MAX_CONTAINS_LENGTH = 1 * KiB;

export interface Manifest {
  file: string;
  /** The declared health path (always starting with "/"), or undefined when none is declared. */
  path?: string;
  /** Text the body must contain, when set. */
  contains?: string;
  /** `[healthcheck]` interval, timeout (seconds) and retries, as written. */
  interval?: number;
  timeout?: number;
  retries?: number;
  /** `[run] start-timeout`: the deploy probe's window, in seconds. */
  startTimeout?: number;
}

/** Hop3's order: `src/hop3/hop3.toml`, then `src/hop3.toml`; then `hop3.toml` beside `src/` (hop3-health's earlier place). */
export function manifestCandidates(appDir: string): string[] {
  return [path.join(appDir, "src", "hop3", "hop3.toml"), path.join(appDir, "src", "hop3.toml"), path.join(appDir, "hop3.toml")];
}

/** The app's manifest, or undefined when it has none. A bad one is a ManifestError naming file, key and reason. */
export async function readManifest(appDir: string): Promise<Manifest | undefined> {
  for (const file of manifestCandidates(appDir)) {
    let text: string;
    try {
      text = await readBoundedFile(file, { maxBytes: MANIFEST_MAX_BYTES, within: appDir });
    } catch (error) {
      if (error instanceof FileReadError && error.missing) continue;
      if (error instanceof FileReadError) throw new ManifestError(file, error.message.replace(`cannot read ${file}: `, "cannot be read: "));
      throw error;
    }
    return parseManifest(file, text);
  }
  return undefined;
}

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

const HEALTHCHECK_KEYS = new Set(["path", "contains", "interval", "timeout", "retries"]);

/**
 * pydantic's lax `int`: a whole number, a float with no fraction, or a string of digits. Hop3
 * accepts these, so hop3-health does too; anything else is refused as Hop3 refuses it.
 */
function laxInt(value: unknown, key: string, file: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value)) return Number(value);
  throw new ManifestError(file, `${key}: expected a whole number, got ${describe(value)}`);
}

/** pydantic's lax `int | float`. */
function laxNumber(value: unknown, key: string, file: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) return Number(value);
  throw new ManifestError(file, `${key}: expected a number of seconds, got ${describe(value)}`);
}

/**
 * What hop3-health takes of an app's numbers. Hop3's schema bounds only their types; these caps
 * keep one app's manifest from stretching its own window or probes without end (a start-timeout
 * of 1e9 s would be maintenance until 2058), or from breaking the date arithmetic of the whole
 * exporter. Outside them, the app's check fails with "manifest invalid", key and range.
 */
export const RANGES = {
  interval: { min: 0, max: 3600, unit: "s" },
  timeout: { min: 0, max: 600, unit: "s" },
  retries: { min: 0, max: 100, unit: "" },
  startTimeout: { min: 0, max: 3600, unit: "s" },
} as const;

function within(value: number | undefined, range: { min: number; max: number; unit: string }, key: string, file: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < range.min || value > range.max) {
    throw new ManifestError(file, `${key}: ${describe(value)} is out of range: expected ${range.min} to ${range.max}${range.unit}`);
  }
  return value;
}

function optionalString(value: unknown, key: string, file: string, maxLength: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new ManifestError(file, `${key}: expected a string, got ${describe(value)}`);
  if (value.length > maxLength) throw new ManifestError(file, `${key}: ${value.length} characters, more than the ${maxLength} hop3-health takes`);
  return value;
}

function describe(value: unknown): string {
  if (typeof value === "string") return value.length > 40 ? "a long string" : JSON.stringify(value);
  if (Array.isArray(value)) return "a list";
  if (isTable(value)) return "a table";
  if (value instanceof Date) return "a date";
  return String(value);
}

export function parseManifest(file: string, text: string): Manifest {
  let toml: Table;
  try {
    toml = parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) throw new ManifestError(file, `not valid TOML at line ${error.line}, column ${error.column}`);
    throw error;
  }
  const run = toml.run;
  if (run !== undefined && !isTable(run)) throw new ManifestError(file, "run: expected a table");
  const healthcheck = toml.healthcheck;
  if (healthcheck !== undefined && !isTable(healthcheck)) throw new ManifestError(file, "healthcheck: expected a table, such as [healthcheck] path = \"/health\"");

  const h = healthcheck ?? {};
  const unknown = Object.keys(h).filter((key) => !HEALTHCHECK_KEYS.has(key));
  if (unknown.length > 0) {
    const hint = unknown.includes("expected_status") ? " (Hop3 refuses it; hop3-health's accept_status goes in its own config, [apps.<name>])" : "";
    throw new ManifestError(file, `healthcheck: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")}${hint}`);
  }
  const declaredPath = optionalString(h.path, "healthcheck.path", file, MAX_PATH_LENGTH);
  const contains = optionalString(h.contains, "healthcheck.contains", file, MAX_CONTAINS_LENGTH);
  const interval = within(laxInt(h.interval, "healthcheck.interval", file), RANGES.interval, "healthcheck.interval", file);
  const timeout = within(laxInt(h.timeout, "healthcheck.timeout", file), RANGES.timeout, "healthcheck.timeout", file);
  const retries = within(laxInt(h.retries, "healthcheck.retries", file), RANGES.retries, "healthcheck.retries", file);

  const r = run ?? {};
  const legacyPath = optionalString(r.healthcheck, "run.healthcheck", file, MAX_PATH_LENGTH);
  within(laxInt(r["healthcheck-timeout"], "run.healthcheck-timeout", file), RANGES.timeout, "run.healthcheck-timeout", file);
  const startTimeout = within(laxNumber(r["start-timeout"], "run.start-timeout", file), RANGES.startTimeout, "run.start-timeout", file);

  // Hop3's healthcheck_path: [healthcheck].path if truthy, else [run].healthcheck; `contains` alone means "/".
  const chosen = declaredPath || legacyPath || (contains ? "/" : undefined);
  return {
    file,
    ...(chosen ? { path: chosen.startsWith("/") ? chosen : `/${chosen}` } : {}),
    ...(contains ? { contains } : {}),
    ...(interval !== undefined ? { interval } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
    ...(retries !== undefined ? { retries } : {}),
    ...(startTimeout !== undefined ? { startTimeout } : {}),
  };
}
