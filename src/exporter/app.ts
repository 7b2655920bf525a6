// The HTTP face of the exporter that reads: /metrics, /status, the health and readiness
// endpoints, the event log and the status page, all from the state of the last finished cycle.

import { Router, type Request, type Response } from "express";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { gzip, gzipSync } from "node:zlib";
import type { EventLog } from "../engine/events.js";
import type { HealthState } from "../engine/state.js";
import { pageOptions, renderHtml } from "../report/html.js";
import { toJson } from "../report/json.js";
import { buildReport, withHistory, type Report, type ScheduledWindow } from "../report/report.js";
import { renderText } from "../report/text.js";
import { route, send, sendJson, sendText, urlOf } from "./http.js";
import type { Metrics } from "./metrics.js";

export interface AppOptions {
  state: HealthState;
  metrics: Metrics;
  events: EventLog;
  /** The interval and the default per-check timeout now (a reload may change them): how late a cycle may be before /-/ready says 503. */
  timing(): { intervalSeconds: number; timeoutSeconds: number };
  /** The maintenance windows open now, by check. */
  maintenance(): ReadonlyMap<string, { until: string; reason: string }>;
  /** The recurring maintenance windows, with their next start. */
  scheduled(): ScheduledWindow[];
}

const gzipped = promisify(gzip);
/**
 * Up to this size a body is compressed on the spot (a scrape of a few dozen checks: a fraction of
 * a millisecond), where handing it to the thread pool and back costs two thread wake-ups, more on
 * a virtual machine than the compressing. A larger one (a thousand checks) goes to the thread
 * pool, so that scrapes side by side are compressed side by side.
 */
const COMPRESS_INLINE = 64 * 1024;

/** Whether an Accept-Encoding header takes gzip (and does not refuse it with q=0). */
export function acceptsGzip(header: string | undefined): boolean {
  for (const part of (header ?? "").toLowerCase().split(",")) {
    const [coding, ...params] = part.trim().split(";");
    if (coding !== "gzip" && coding !== "*") continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    return q === undefined || Number(q) > 0;
  }
  return false;
}

/** A text answer, gzip-compressed when the client takes it. */
async function sendCompressible(req: Request, res: Response, contentType: string, text: string, headers: Record<string, string> = {}): Promise<void> {
  if (acceptsGzip(req.headers["accept-encoding"])) {
    const body = text.length <= COMPRESS_INLINE ? gzipSync(text) : await gzipped(text);
    send(res, 200, contentType, body, { ...headers, "content-encoding": "gzip", vary: "Accept-Encoding" });
  } else {
    send(res, 200, contentType, text, { ...headers, vary: "Accept-Encoding" });
  }
}

export const NOT_FOUND = "Not found. Try /, /metrics, /status, /-/healthy, /-/ready, /api/v1/events, POST /api/v1/probes or POST /-/reload.\n";

export function reportRouter(options: AppOptions): Router {
  const { state, metrics, events } = options;
  const app = Router();

  const report = (): Report | null => {
    const cycle = state.currentCycle();
    return cycle && state.identity ? buildReport(state.identity, cycle, options.maintenance(), options.scheduled()) : null;
  };
  // With each check's history from the event log: the JSON report and the page show it.
  const reportWithHistory = (): Report | null => {
    const current = report();
    return current && withHistory(current, events.recent());
  };

  route(app, "/metrics", { get: async (req, res) => {
    // Compressed when asked, as Prometheus asks: a fleet's scrapes cost a quarter of the bytes.
    await sendCompressible(req, res, metrics.contentType, await metrics.render());
  } });

  route(app, "/status", { get: async (req, res) => {
    const url = urlOf(req);
    const text = url.searchParams.get("format") === "text";
    const current = text ? report() : reportWithHistory();
    if (!current) {
      if (text) sendText(res, 503, "No check cycle has finished yet.\n");
      else sendJson(res, 503, { error: "no check cycle has finished yet" });
      return;
    }
    if (text) sendText(res, 200, renderText(current, { colour: false }));
    else await sendCompressible(req, res, "application/json; charset=utf-8", JSON.stringify(toJson(current)));
  } });

  route(app, "/-/healthy", { get: (_req, res) => sendText(res, 200, "OK\n") });
  route(app, "/-/ready", { get: (_req, res) => {
    if (!state.lastCycle) {
      sendText(res, 503, "Not ready: the first check cycle has not finished yet.\n");
      return;
    }
    // Cycles that stopped finishing (a check stuck past every timeout) are not ready either.
    const age = (Date.now() - state.lastCycle.finishedAt.getTime()) / 1000;
    const { intervalSeconds, timeoutSeconds } = options.timing();
    const limit = 3 * intervalSeconds + timeoutSeconds;
    if (age > limit) sendText(res, 503, `Not ready: no check cycle has finished for ${Math.round(age)}s (cycles stopped?).\n`);
    else sendText(res, 200, "OK\n");
  } });

  route(app, "/api/v1/events", { get: async (req, res) => {
    const url = urlOf(req);
    const query = url.searchParams;
    const once = (key: string): string | undefined => query.get(key) ?? undefined;
    if (query.getAll("check").length > 1 || query.getAll("kind").length > 1 || query.getAll("since").length > 1) {
      sendJson(res, 400, { error: "since, check and kind may be given once each" });
      return;
    }
    const since = once("since");
    const sinceDate = since === undefined ? undefined : new Date(since);
    if (sinceDate && Number.isNaN(sinceDate.getTime())) {
      sendJson(res, 400, { error: `since=${JSON.stringify(since)} is not an ISO 8601 time` });
      return;
    }
    const limit = once("limit");
    const max = limit === undefined ? 1000 : Number(limit);
    if (!Number.isInteger(max) || max < 1 || max > 10_000) {
      sendJson(res, 400, { error: "limit must be a whole number from 1 to 10000" });
      return;
    }
    const check = once("check");
    const kind = once("kind");
    const found = await events.query({ ...(sinceDate ? { since: sinceDate } : {}), ...(check ? { check } : {}), ...(kind ? { kind } : {}), limit: max });
    sendJson(res, 200, { events: found });
  } });

  route(app, "/", { get: async (req, res) => {
    const url = urlOf(req);
    const started = performance.now();
    const view = pageOptions(url.searchParams, options.timing().intervalSeconds);
    if (typeof view === "string") {
      sendText(res, 400, `${view}\n`);
      return;
    }
    const html = renderHtml(reportWithHistory(), view);
    // What the page cost to make, for the browser's developer tools and bench/status-page.ts.
    await sendCompressible(req, res, "text/html; charset=utf-8", html, { "server-timing": `render;dur=${(performance.now() - started).toFixed(2)}` });
  } });
  return app;
}
