// The startup probe: GET the app's health endpoint from the first moment, backing off to about
// half a second between tries, until it answers well or the window closes. Each request has its
// own timeout; a refused connection, a silent socket, a 5xx or a wrong body each mean "not yet".

import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import { StringDecoder } from "node:string_decoder";
import { formatSeconds } from "../lib/format.js";

export interface ProbeTarget {
  app: string;
  /** The full URL polled. */
  url: URL;
  contains?: string;
  expectedStatus?: number;
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
  observed: string;
}

/** The most of a body read while looking for `contains`. */
const MAX_BODY_BYTES = 1 << 20;
/** Pauses between tries: 25 ms at first, a quarter longer each time, at most half a second. */
const FIRST_PAUSE_MS = 25;
const PAUSE_GROWTH = 1.25;
const MAX_PAUSE_MS = 500;

const ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  EHOSTUNREACH: "host unreachable",
};

/** One GET: whether it counts as healthy, and what it saw. */
export function probeOnce(
  url: URL,
  options: { timeoutMs: number; contains?: string | undefined; expectedStatus?: number | undefined },
  signal?: AbortSignal,
): Promise<Attempt> {
  return new Promise((resolve) => {
    let settled = false;
    const client = url.protocol === "https:" ? https : http;
    const request = client.get(url, { agent: false, headers: { "user-agent": "hop3-health probe", accept: "*/*" } });
    const finish = (ok: boolean, observed: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      request.destroy();
      resolve({ ok, observed });
    };
    const timer = setTimeout(() => finish(false, "timed out"), options.timeoutMs);
    const onAbort = (): void => finish(false, "aborted");
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });

    request.on("error", (error: NodeJS.ErrnoException) => finish(false, ERRORS[error.code ?? ""] ?? error.message));
    request.on("response", (response) => {
      const status = response.statusCode ?? 0;
      const statusOk = options.expectedStatus !== undefined ? status === options.expectedStatus : status >= 200 && status < 300;
      if (!statusOk) return finish(false, `HTTP ${status}`);
      const contains = options.contains;
      if (contains === undefined) return finish(true, `HTTP ${status}`);
      // Read only until the text shows up, keeping a tail so a match across chunks is seen.
      const decoder = new StringDecoder("utf8");
      let tail = "";
      let read = 0;
      response.on("data", (chunk: Buffer) => {
        read += chunk.length;
        const text = tail + decoder.write(chunk);
        if (text.includes(contains)) return finish(true, `HTTP ${status}`);
        tail = text.slice(-Math.max(0, contains.length - 1));
        if (read > MAX_BODY_BYTES) finish(false, `HTTP ${status} without "${contains}" in its first MiB`);
      });
      response.on("end", () => finish(false, `HTTP ${status} without "${contains}"`));
      response.on("error", () => finish(false, "connection reset"));
    });
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export async function runProbe(target: ProbeTarget, signal?: AbortSignal): Promise<Verdict> {
  const started = performance.now();
  const deadline = started + target.window * 1000;
  let attempts = 0;
  let last: string | null = null;
  const verdict = (success: boolean): Verdict => {
    const seconds = (performance.now() - started) / 1000;
    return {
      app: target.app,
      result: success ? "success" : "failure",
      message: success
        ? `'${target.app}' answered ${last ?? ""} on ${target.url.pathname} after ${seconds.toFixed(1)}s (${attempts} attempt${attempts === 1 ? "" : "s"})`
        : `'${target.app}' did not respond to health checks within ${formatSeconds(target.window)} (last: ${last ?? "no answer"})`,
      duration_seconds: Number(seconds.toFixed(3)),
      attempts,
      last,
      url: target.url.href,
    };
  };
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0 || signal?.aborted) return verdict(false);
    attempts++;
    const attempt = await probeOnce(
      target.url,
      { timeoutMs: Math.min(target.requestTimeout * 1000, remaining), contains: target.contains, expectedStatus: target.expectedStatus },
      signal,
    );
    last = attempt.observed;
    if (attempt.ok) return verdict(true);
    const pause = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * PAUSE_GROWTH ** (attempts - 1));
    if (performance.now() + pause >= deadline) {
      // No time for another try: the window closes as it was meant to.
      await sleep(Math.max(0, deadline - performance.now()), signal);
      return verdict(false);
    }
    await sleep(pause, signal);
  }
}
