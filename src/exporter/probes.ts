// POST /api/v1/probes: the deploy-time startup probe, run by the exporter so that its verdict is
// counted (hop3_deploy_probe_total, the duration histogram) and logged as an event. It is no
// way to reach arbitrary hosts: targets are this host's unless the config allows more, and only
// loopback clients may call it unless basic auth is on.

import * as z from "#zod";
import { nonEmpty } from "../config/schema.js";
import type { Engine } from "../engine/engine.js";
import type { EventLog } from "../engine/events.js";
import { runProbe, type Verdict } from "../probe/probe.js";
import { ProbeInputError, resolveProbeTarget, UnknownAppError } from "../probe/target.js";
import type { Metrics } from "./metrics.js";
import { requireWrite } from "./authority.js";
import { Router, type RequestHandler } from "express";
import { jsonBody, route, sendJson } from "./http.js";

const probeBody = z
  .strictObject({
    app: z.string({ error: "app is required" }).check(z.minLength(1)),
    url: z.optional(nonEmpty()),
    port: z.optional(z.int().check(z.minimum(1), z.maximum(65535))),
    path: z.optional(nonEmpty()),
    contains: z.optional(nonEmpty()),
    timeout_seconds: z.optional(z.number().check(z.positive(), z.maximum(3600))),
    /** false: a trial by hand, not a deploy; the verdict is answered but not counted or logged. */
    record: z._default(z.boolean(), true),
  })
  .check(z.refine((b) => b.url === undefined || b.port === undefined, { error: "give url or port, not both" }));

export interface ProbeApiOptions {
  /** The engine in use now (a reload replaces it). */
  engine: () => Engine;
  metrics: Metrics;
  events: EventLog;
  /** Aborted when the exporter stops. */
  signal: AbortSignal;
}

/**
 * Records a verdict: counters, histogram, event log, log line. `origin` says who asked: the API
 * (a deploy script or `hop3-health probe`) or the app scan, which saw Hop3 respawn the app.
 */
export async function recordVerdict(verdict: Verdict, options: Pick<ProbeApiOptions, "engine" | "metrics" | "events">, origin: "api" | "deploy" = "api"): Promise<void> {
  options.metrics.deployProbes.inc({ app: verdict.app, result: verdict.result });
  options.metrics.deployProbeDuration.observe({ app: verdict.app }, verdict.duration_seconds);
  options.metrics.invalidate();
  await options.events.append([
    {
      time: new Date().toISOString(),
      kind: "probe",
      check: `app:${verdict.app}`,
      app: verdict.app,
      result: verdict.result,
      message: verdict.message,
      duration_seconds: verdict.duration_seconds,
      url: verdict.url,
      origin,
    },
  ]);
  const fields = { app: verdict.app, result: verdict.result, seconds: verdict.duration_seconds };
  if (verdict.result === "success") options.engine().logger.info(fields, verdict.message);
  else options.engine().logger.error(fields, verdict.message);
}

/** Probes running at once; more are answered 429, so that no client can make the exporter poll without end. */
const MAX_PROBES = 16;

export function probeRouter(options: ProbeApiOptions): Router {
  let running = 0;
  const app = Router();
  const probe: RequestHandler = async (req, res) => {
    if (running >= MAX_PROBES) {
      sendJson(res, 429, { error: `${MAX_PROBES} probes are running already; try again when one has finished` }, { "retry-after": "5" });
      return;
    }
    const parsed = probeBody.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.map(String).join(".")}: ` : "";
      sendJson(res, 400, { error: `${where}${issue?.message ?? "bad request"}` });
      return;
    }
    const body = parsed.data;
    let target;
    try {
      target = await resolveProbeTarget(
        { app: body.app, url: body.url, port: body.port, path: body.path, contains: body.contains, timeoutSeconds: body.timeout_seconds },
        { hop3Root: options.engine().config.hop3_root, appsConfig: options.engine().config.apps, allowedHosts: options.engine().config.probes.allowed_hosts },
      );
    } catch (error) {
      if (error instanceof ProbeInputError) {
        sendJson(res, error instanceof UnknownAppError ? 404 : 400, { error: error.message });
        return;
      }
      throw error;
    }
    // A probe that is counted (and logged) is a write; one that is not is only a question.
    if (body.record && !requireWrite(req, res, "deploy probes that are counted")) return;
    // The window may be long: the connection's idle timeout is lifted, and a client that goes
    // away takes its probe with it.
    req.socket.setTimeout(0);
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableEnded) gone.abort();
    });
    running++;
    try {
      const verdict = await runProbe(target, AbortSignal.any([options.signal, gone.signal]));
      if (gone.signal.aborted) return;
      if (body.record) await recordVerdict(verdict, options);
      sendJson(res, verdict.result === "success" ? 200 : 422, { ...verdict, recorded: body.record });
    } finally {
      running--;
    }
  };
  route(app, "/api/v1/probes", { post: [...jsonBody(16 * 1024), probe] });
  return app;
}
