// HOP3_ROOT/hop3-server.toml, read, never written (HOP3-SERVER.md §5). Hop3 upper-cases its
// top-level keys; versions differ in which keys they write, so each value is taken only when it
// has the type Hop3 gives it. Values never leave this module in a message.

import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { FileReadError, KiB, readBoundedFile } from "./files.js";

export const SERVER_TOML = "hop3-server.toml";

/** What stands in the way of reading a file Hop3 keeps for its own user. */
export const PERMISSION_HINT = "run hop3-health as user hop3 or in group hop3";

export interface ServerToml {
  file: string;
  /** Top-level keys, upper-cased, with their values (tables and lists are left as they are). */
  values: Map<string, unknown>;
  /** Why the file gave nothing: missing, unreadable (with the hint), or not valid TOML. */
  problem?: { kind: "missing" | "denied" | "unreadable" | "invalid"; message: string };
}

export function serverTomlPath(hop3Root: string): string {
  return path.join(hop3Root, SERVER_TOML);
}

export function readServerToml(hop3Root: string): Promise<ServerToml> {
  return readServerTomlFile(serverTomlPath(hop3Root));
}

export async function readServerTomlFile(file: string): Promise<ServerToml> {
  const values = new Map<string, unknown>();
  let text: string;
  try {
    text = await readBoundedFile(file, { maxBytes: 256 * KiB });
  } catch (error) {
    if (!(error instanceof FileReadError)) throw error;
    if (error.missing) return { file, values, problem: { kind: "missing", message: `missing (${file})` } };
    if (error.denied) return { file, values, problem: { kind: "denied", message: `${error.message} — ${PERMISSION_HINT}` } };
    return { file, values, problem: { kind: "unreadable", message: error.message } };
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(text);
  } catch (error) {
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : "";
    return { file, values, problem: { kind: "invalid", message: `not valid TOML${where} (${file})` } };
  }
  for (const [key, value] of Object.entries(parsed)) values.set(key.toUpperCase(), value);
  return { file, values };
}

/** A string value, or undefined (absent, empty, or another type). */
export function stringValue(config: ServerToml, key: string): string | undefined {
  const value = config.values.get(key);
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** A positive number, also written as a string, or undefined. */
export function numberValue(config: ServerToml, key: string): number | undefined {
  const value = config.values.get(key);
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Hop3's default deploy window when `APP_START_TIMEOUT` is not set. */
export const DEFAULT_START_TIMEOUT = 60;

/** `APP_START_TIMEOUT`, else Hop3's default of 60 s. */
export async function appStartTimeout(hop3Root: string): Promise<number> {
  return numberValue(await readServerToml(hop3Root), "APP_START_TIMEOUT") ?? DEFAULT_START_TIMEOUT;
}

/**
 * Whether HOP3_ROOT holds a Hop3 installation: "missing" (no such folder), "empty" (a folder with
 * neither hop3-server.toml nor apps/), or "installed". On a machine without Hop3, the checks of
 * Hop3's own files stand aside and one check says so, instead of a column of red.
 */
export function hop3RootState(hop3Root: string): Promise<"missing" | "empty" | "installed"> {
  // Three stat calls, made at once (asked by several checks each cycle): no thread-pool round trips.
  let root;
  try {
    root = statSync(hop3Root, { throwIfNoEntry: false });
  } catch {
    root = undefined;
  }
  if (!root?.isDirectory()) return Promise.resolve("missing");
  return Promise.resolve(existsSync(serverTomlPath(hop3Root)) || existsSync(path.join(hop3Root, "apps")) ? "installed" : "empty");
}

/** What to do about a HOP3_ROOT without Hop3. */
export function noHop3Message(hop3Root: string, state: "missing" | "empty"): string {
  const what = state === "missing" ? `no folder ${hop3Root}` : `no hop3-server.toml or apps/ in ${hop3Root}`;
  return `no Hop3 installation here (${what}): set HOP3_ROOT, or hop3_root in the config, to the folder Hop3 is installed in (/home/hop3 by default)`;
}
