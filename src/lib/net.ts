// Shared by the checks that talk to a server: where it is, how long they may wait, and a short,
// pointed sentence for what went wrong on the way (never with a password in it).

import * as z from "#zod";
import type { HealthCheckResult, PluginContext } from "../health/model.js";
import { formatSeconds } from "./format.js";

/** A setting holding a URL with one of the given schemes, refused with an example otherwise. */
export function urlSetting(schemes: readonly string[], example: string): z.ZodMiniType<string, string> {
  return z.string().check(z.refine((v) => schemes.some((s) => v.startsWith(`${s}://`)) && URL.canParse(v), { error: `expected a URL such as "${example}"` }));
}

export interface Endpoint {
  host: string;
  port: number;
  /** "host:port", with brackets around an IPv6 address. */
  where: string;
}

export function endpointOf(host: string, port: number): Endpoint {
  return { host, port, where: `${host.includes(":") ? `[${host}]` : host}:${port}` };
}

/** The endpoint of a URL, with the scheme's default port when it names none. */
export function endpointOfUrl(url: URL, defaultPort: number): Endpoint {
  const host = url.hostname.replace(/^\[|\]$/g, "") || "localhost";
  return endpointOf(host, url.port ? Number(url.port) : defaultPort);
}

/** A URL with its password masked, for details. */
export function safeUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = "***";
  return copy.href;
}

/**
 * How long a check may spend, in milliseconds: its timeout less a small margin, so that its own
 * pointed message ("timed out after 5s connecting to db:5432") comes before the runner's deadline.
 */
export function budgetMs(ctx: PluginContext, id: string): { ms: number; seconds: number } {
  const seconds = ctx.timeoutFor(id);
  return { ms: Math.max(50, seconds * 1000 - Math.min(100, seconds * 100)), seconds };
}

const ERRNO_MESSAGES: Record<string, (e: Endpoint) => string> = {
  ECONNREFUSED: (e) => `connection refused (${e.where})`,
  ENOTFOUND: (e) => `host not found (${e.host})`,
  EAI_AGAIN: (e) => `host not found (${e.host}: name lookup failed)`,
  EAI_NONAME: (e) => `host not found (${e.host})`,
  EHOSTUNREACH: (e) => `host unreachable (${e.where})`,
  ENETUNREACH: (e) => `network unreachable (${e.where})`,
  ECONNRESET: (e) => `connection reset by ${e.where}`,
  EPIPE: (e) => `connection reset by ${e.where}`,
};

/** The errno-level cause of an error, looking through the wrappers libraries put around it. */
export function errnoOf(error: unknown): string | undefined {
  for (let cause: unknown = error, depth = 0; cause !== undefined && cause !== null && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && (code in ERRNO_MESSAGES || code === "ETIMEDOUT")) return code;
    const nested = (cause as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested.length > 0) {
      const inner = nested.map(errnoOf).find((c) => c !== undefined);
      if (inner) return inner;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** "connection refused (db:5432)" and the like, or undefined when the error is not a network one. */
export function networkMessage(error: unknown, endpoint: Endpoint, timeoutSeconds: number): string | undefined {
  const code = errnoOf(error);
  if (code === "ETIMEDOUT") return timedOutMessage(timeoutSeconds, endpoint);
  return code ? ERRNO_MESSAGES[code]?.(endpoint) : undefined;
}

export function timedOutMessage(timeoutSeconds: number, endpoint: Endpoint, doing = "connecting to"): string {
  return `timed out after ${formatSeconds(timeoutSeconds)} ${doing} ${endpoint.where}`;
}

/** Whether a failure means the server could not be reached at all (as opposed to refusing us). */
export function isUnreachable(message: string): boolean {
  return /^(connection refused|host not found|host unreachable|network unreachable|timed out|connection reset)/.test(message);
}

/**
 * Runs a backing-service check whose settings may have come from Hop3's own files: a file that
 * could not be read is said to be so (a warning, not a false failure of the service); the result
 * says where its settings came from, and an authentication failure where its password came from.
 */
export async function withSettingsOrigin(ctx: PluginContext, id: string, name: string, run: () => Promise<HealthCheckResult>): Promise<HealthCheckResult> {
  const found = ctx.discovered(id);
  if (found?.problem !== undefined) {
    return { name, passed: false, severity: "warn", message: found.problem, details: { settings_from: found.from, reason: "permission" } };
  }
  const result = await run();
  if (!found) return result;
  const authFailed = result.message.startsWith("authentication failed") && found.passwordFrom !== undefined;
  return {
    ...result,
    message: authFailed ? `${result.message} — password from ${found.passwordFrom}` : result.message,
    details: { ...result.details, settings_from: found.from },
  };
}

/** "0.0.0.0:9483", "[::1]:9483", ":9483" → host (undefined: every interface) and port. */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, "");
  return { host: host === "" ? undefined : host, port: Number(listen.slice(colon + 1)) };
}
