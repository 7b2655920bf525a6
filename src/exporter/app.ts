// The HTTP face of the exporter: /metrics, /status, the health and readiness endpoints, the
// event log and the status page, all reading the state of the last finished cycle.

import express, { type NextFunction, type Request, type Response } from "express";
import type { EventLog } from "../engine/events.js";
import type { HealthState } from "../engine/state.js";
import { renderHtml } from "../report/html.js";
import { toJson } from "../report/json.js";
import { buildReport, type Report } from "../report/report.js";
import { renderText } from "../report/text.js";
import type { BasicAuth } from "./auth.js";
import type { Metrics } from "./metrics.js";

export interface AppOptions {
  state: HealthState;
  metrics: Metrics;
  events: EventLog;
  intervalSeconds: number;
  /** The default per-check timeout: with the interval, how late a cycle may be before /-/ready says 503. */
  timeoutSeconds: number;
  auth: BasicAuth | null;
  /** Extra routes (the deploy-probe API) mounted after the built-in ones. */
  extend?: (app: express.Express) => void;
}

export function createApp(options: AppOptions): express.Express {
  const { state, metrics, events } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");

  if (options.auth) {
    const auth = options.auth;
    app.use((req: Request, res: Response, next: NextFunction) => {
      auth.check(req.headers.authorization).then(
        (ok) => {
          if (ok) next();
          else res.status(401).set("WWW-Authenticate", 'Basic realm="hop3-health", charset="UTF-8"').type("text/plain").send("Unauthorized\n");
        },
        (error: unknown) => next(error),
      );
    });
  }

  const report = (): Report | null => {
    const cycle = state.currentCycle();
    return cycle && state.identity ? buildReport(state.identity, cycle) : null;
  };

  app.get("/metrics", async (_req, res) => {
    res.set("Content-Type", metrics.contentType).send(await metrics.render());
  });

  app.get("/status", (req, res) => {
    const current = report();
    const text = req.query.format === "text";
    if (!current) {
      res.status(503);
      if (text) res.type("text/plain").send("No check cycle has finished yet.\n");
      else res.json({ error: "no check cycle has finished yet" });
      return;
    }
    if (text) res.type("text/plain; charset=utf-8").send(renderText(current, { colour: false }));
    else res.json(toJson(current));
  });

  app.get("/-/healthy", (_req, res) => {
    res.type("text/plain").send("OK\n");
  });
  app.get("/-/ready", (_req, res) => {
    if (!state.lastCycle) {
      res.status(503).type("text/plain").send("Not ready: the first check cycle has not finished yet.\n");
      return;
    }
    // Cycles that stopped finishing (a check stuck past every timeout) are not ready either.
    const age = (Date.now() - state.lastCycle.finishedAt.getTime()) / 1000;
    const limit = 3 * options.intervalSeconds + options.timeoutSeconds;
    if (age > limit) res.status(503).type("text/plain").send(`Not ready: no check cycle has finished for ${Math.round(age)}s (cycles stopped?).\n`);
    else res.type("text/plain").send("OK\n");
  });

  app.get("/api/v1/events", async (req, res) => {
    const { since, check, kind, limit } = req.query;
    let sinceDate: Date | undefined;
    if (since !== undefined) {
      sinceDate = typeof since === "string" ? new Date(since) : new Date(NaN);
      if (Number.isNaN(sinceDate.getTime())) {
        res.status(400).json({ error: `since=${JSON.stringify(since)} is not an ISO 8601 time` });
        return;
      }
    }
    if ((check !== undefined && typeof check !== "string") || (kind !== undefined && typeof kind !== "string")) {
      res.status(400).json({ error: "check and kind may be given once each" });
      return;
    }
    const max = limit === undefined ? 1000 : Number(limit);
    if (!Number.isInteger(max) || max < 1 || max > 10_000) {
      res.status(400).json({ error: "limit must be a whole number from 1 to 10000" });
      return;
    }
    const found = await events.query({ ...(sinceDate ? { since: sinceDate } : {}), ...(check ? { check } : {}), ...(kind ? { kind } : {}), limit: max });
    res.json({ events: found });
  });

  app.get("/", (_req, res) => {
    res.type("text/html; charset=utf-8").send(renderHtml(report(), { refreshSeconds: options.intervalSeconds }));
  });

  options.extend?.(app);

  app.use((_req: Request, res: Response) => {
    res.status(404).type("text/plain").send("Not found. Try /, /metrics, /status, /-/healthy, /-/ready, /api/v1/events or POST /api/v1/probes.\n");
  });
  app.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const status = (error as { status?: unknown }).status;
    res.status(typeof status === "number" && status >= 400 && status < 500 ? status : 500).json({ error: error instanceof Error ? error.message : "internal error" });
  });
  return app;
}
