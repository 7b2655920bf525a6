// The startup probe: GET the app's health endpoint from the first moment, backing off to about
// half a second between tries, until it answers well or the window closes. Each request has its
// own timeout; a refused connection, a silent socket, a wrong status or body each mean "not yet".
//
// A request goes to an address (host and port) with a path sent as it is and a Host header of
// its own, as Hop3's probe does: a path is never resolved as a URL, so `//other:9999/x` in a
// manifest is a path on the app, not another host. Redirects are not followed.

import type http from "node:http";
import { formatSeconds } from "../lib/format.js";
import { monotonicMs } from "../lib/duration.js";

export interface HttpTarget {
  protocol: "http:" | "https:";
  /** Where to connect. */
  host: string;
  port: number;
  /** The request path, as sent (see requestPath). */
  path: string;
  /** The Host header. */
  hostHeader: string;
}

/** What a healthy answer is. */
export interface Expectation {
  /** Status ranges that count as healthy; null: any HTTP answer counts (no endpoint declared). */
  accept: ReadonlyArray<readonly [number, number]> | null;
  /** Text the body (its first 256 KiB) must contain. */
  contains?: string | undefined;
}

export const DEFAULT_ACCEPT: ReadonlyArray<readonly [number, number]> = [[200, 399]];

export interface ProbeTarget {
  app: string;
  /** null for a static site (PORT=0): nginx serves its files, there is nothing to probe. */
  http: HttpTarget | null;
  expect: Expectation;
  /** Seconds per request. */
  requestTimeout: number;
  /** Seconds the probe waits for a success. */
  window: number;
}

export interface Verdict {
  app: string;
  result: "success" | "failure";
  message: string;
  duration_seconds: number;
  attempts: number;
  /** What the last attempt saw: "HTTP 503", "connection refused", "timed out", ... */
  last: string | null;
  url: string;
}

export interface Attempt {
  ok: boolean;
  /** "HTTP 503", "connection refused", "timed out", `HTTP 200 without "ready" in its first 256 KiB`. */
  observed: string;
  /** The status, when an answer came. */
  status?: number;
  /** Why it is not ok, as a reason: refused, timeout, http_status, content, error. */
  reason?: "refused" | "timeout" | "http_status" | "content" | "error";
}

/** The most of a body read while looking for `contains` (Hop3 reads as much). */
export const MAX_BODY_BYTES = 256 * 1024;
/** Pauses between tries that reached the app: 25 ms at first, a quarter longer each time, at most half a second. */
const FIRST_PAUSE_MS = 25;
const PAUSE_GROWTH = 1.25;
const MAX_PAUSE_MS = 500;
/**
 * The pause after a refused connection: nothing listens yet, and asking again costs a SYN and a
 * RST on loopback (tens of microseconds), so the app's first answer is seen within this.
 */
const REFUSED_PAUSE_MS = 10;

const ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  EHOSTUNREACH: "host unreachable",
};

/** A path as sent on the request line: a leading "/", and every byte outside printable ASCII percent-encoded. */
export function requestPath(declared: string): string {
  const withSlash = declared.startsWith("/") ? declared : `/${declared}`;
  let out = "";
  for (const byte of Buffer.from(withSlash, "utf8")) {
    out += byte > 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** "http://127.0.0.1:8000/health", for messages and details. */
export function targetHref(target: HttpTarget): string {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `${target.protocol}//${host}:${target.port}${target.path}`;
}

/** "200–399", "200–399, 400": the statuses that count as healthy. */
export function describeAccept(accept: ReadonlyArray<readonly [number, number]>): string {
  return accept.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}–${hi}`)).join(", ");
}

function statusAccepted(status: number, accept: Expectation["accept"]): boolean {
  return accept === null || accept.some(([lo, hi]) => status >= lo && status <= hi);
}

/** One GET: whether it counts as healthy, and what it saw. */
export async function probeOnce(target: HttpTarget, options: { timeoutMs: number; expect: Expectation }, signal?: AbortSignal): Promise<Attempt> {
  // HTTP is loaded by the first probe and TLS by the first https target, not by every command that might probe.
  const client = target.protocol === "https:" ? (await import("node:https")).default : (await import("node:http")).default;
  return new Promise((resolve) => {
    let settled = false;
    let request: http.ClientRequest;
    const finish = (attempt: Attempt): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      request.destroy();
      resolve(attempt);
    };
    const onAbort = (): void => finish({ ok: false, observed: "aborted", reason: "timeout" });
    const timer = setTimeout(() => finish({ ok: false, observed: "timed out", reason: "timeout" }), options.timeoutMs);
    try {
      request = client.request({
        method: "GET",
        host: target.host,
        port: target.port,
        path: target.path,
        agent: false,
        // The name for TLS, given even over plain HTTP: left out, Node works it out from the Host
        // header with net.isIP, whose IPv6 pattern takes 7 ms to compile on first use.
        servername: target.hostHeader.replace(/:\d+$/, ""),
        // An app's own certificate is its business; the probe asks whether it answers.
        ...(target.protocol === "https:" ? { rejectUnauthorized: false } : {}),
        headers: { host: target.hostHeader, "user-agent": "hop3-health probe", accept: "*/*", connection: "close" },
      });
    } catch (error) {
      clearTimeout(timer);
      resolve({ ok: false, observed: `cannot send the request: ${error instanceof Error ? error.message : String(error)}`, reason: "error" });
      return;
    }
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });

    request.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "";
      finish({ ok: false, observed: ERRORS[code] ?? error.message, reason: code === "ECONNREFUSED" ? "refused" : "error" });
    });
    request.on("response", (response) => {
      const status = response.statusCode ?? 0;
      const { accept, contains } = options.expect;
      if (!statusAccepted(status, accept)) return finish({ ok: false, observed: `HTTP ${status}`, status, reason: "http_status" });
      if (contains === undefined) return finish({ ok: true, observed: `HTTP ${status}`, status });
      // Read only until the text shows up, keeping a tail so a match across chunks is seen.
      const decoder = new TextDecoder();
      let tail = "";
      let read = 0;
      const missing = (): Attempt => ({ ok: false, observed: `HTTP ${status} without "${contains}" in its first 256 KiB`, status, reason: "content" });
      response.on("data", (chunk: Buffer) => {
        const room = MAX_BODY_BYTES - read;
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        read += part.length;
        const text = tail + decoder.decode(part, { stream: true });
        if (text.includes(contains)) return finish({ ok: true, observed: `HTTP ${status}`, status });
        tail = text.slice(-Math.max(0, contains.length - 1));
        if (read >= MAX_BODY_BYTES) finish(missing());
      });
      response.on("end", () => finish(missing()));
      response.on("error", () => finish({ ok: false, observed: "connection reset", status, reason: "error" }));
    });
    request.end();
  });
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export async function runProbe(target: ProbeTarget, signal?: AbortSignal): Promise<Verdict> {
  const { http: endpoint } = target;
  if (endpoint === null) {
    const message = `'${target.app}' is a static site (PORT=0): nginx serves it, there is nothing to probe`;
    return { app: target.app, result: "success", message, duration_seconds: 0, attempts: 0, last: null, url: "" };
  }
  const started = monotonicMs();
  const deadline = started + target.window * 1000;
  let attempts = 0;
  let answered = 0;
  let last: string | null = null;
  const href = targetHref(endpoint);
  const verdict = (success: boolean): Verdict => {
    const seconds = (monotonicMs() - started) / 1000;
    return {
      app: target.app,
      result: success ? "success" : "failure",
      message: success
        ? `'${target.app}' answered ${last ?? ""} on ${endpoint.path} after ${seconds.toFixed(1)}s (${attempts} attempt${attempts === 1 ? "" : "s"})`
        : `'${target.app}' did not respond to health checks within ${formatSeconds(target.window)} (last: ${last ?? "no answer"})`,
      duration_seconds: Number(seconds.toFixed(3)),
      attempts,
      last,
      url: href,
    };
  };
  for (;;) {
    const remaining = deadline - monotonicMs();
    if (remaining <= 0 || signal?.aborted) return verdict(false);
    attempts++;
    const timeoutMs = Math.min(target.requestTimeout * 1000, remaining);
    const attempt = await probeOnce(endpoint, { timeoutMs, expect: target.expect }, signal);
    // An attempt cut short by the window's end says nothing of the app: its last real answer stands.
    const cutShort = attempt.reason === "timeout" && timeoutMs < target.requestTimeout * 1000;
    if (!cutShort || last === null) last = attempt.observed;
    if (attempt.ok) return verdict(true);
    // Backing off only from an app that answers: one still starting is asked again at once.
    answered += attempt.reason === "refused" ? 0 : 1;
    const pause = attempt.reason === "refused" ? REFUSED_PAUSE_MS : Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * PAUSE_GROWTH ** (answered - 1));
    if (monotonicMs() + pause >= deadline) {
      // No time for another try: the window closes as it was meant to.
      await sleep(Math.max(0, deadline - monotonicMs()), signal);
      return verdict(false);
    }
    await sleep(pause, signal);
  }
}
