// What operators and their jobs ask of a running exporter: jobs reporting in
// (/api/v1/heartbeats/<id>[/<token>]), maintenance windows (/api/v1/maintenance) and reloads
// (/-/reload). Each is a write: it needs authority (authority.ts), or, for a job, its own token.

import { Router, type Request, type Response } from "express";
import * as z from "#zod";
import type { Engine } from "../engine/engine.js";
import type { HeartbeatTokens } from "../engine/heartbeat-tokens.js";
import type { RestartPolicies } from "../engine/restarts.js";
import { MAX_WINDOW_SECONDS } from "../engine/maintenance.js";
import { didYouMean } from "../lib/suggest.js";
import { requireWrite } from "./authority.js";
import { jsonBody, route, sendJson, urlOf } from "./http.js";

export interface OperatorApiOptions {
  /** The engine in use now (a reload replaces it). */
  engine: () => Engine;
  /** The jobs' secrets. */
  tokens: () => HeartbeatTokens;
  /** Runs some checks of one plugin now and publishes them. */
  recheck(plugin: string, ids: ReadonlySet<string>): Promise<void>;
  reload(): Promise<{ ok: boolean; message: string }>;
  restarts: RestartPolicies;
}

const maintenanceBody = z
  .strictObject({
    check: z.string({ error: "check is required" }).check(z.minLength(1)),
    for_seconds: z.optional(z.number().check(z.positive(), z.maximum(MAX_WINDOW_SECONDS))),
    reason: z.optional(z.string().check(z.maxLength(500))),
    end: z.optional(z.literal(true)),
  })
  .check(z.refine((b) => (b.end === true) !== (b.for_seconds !== undefined), { error: 'give for_seconds to open a window, or "end": true to end one' }));

/**
 * A job reports in: POST (or, for curl in a crontab, GET) on its ping URL
 * /api/v1/heartbeats/<id>/<token>, with ?status=fail&message=... for a failure; the operator may
 * also report for it without the token (/api/v1/heartbeats/<id>, with authority). Only configured ids.
 */
function beatHandler(options: OperatorApiOptions): (req: Request, res: Response) => void {
  return (req, res) => {
    const token = req.params.token;
    if (token === undefined && !requireWrite(req, res, "heartbeats without the job's token")) return;
    const engine = options.engine();
    const url = urlOf(req);
    const id = String(req.params.id);
    const configured = Object.keys(engine.config.heartbeats);
    if (!configured.includes(id)) {
      sendJson(res, 404, { error: `no heartbeat ${JSON.stringify(id)} is configured${configured.length > 0 ? ` (configured: ${configured.join(", ")})` : " ([heartbeats.<id>] in the config)"}` });
      return;
    }
    if (token !== undefined && !options.tokens().verify(id, String(token))) {
      sendJson(res, 403, { error: `wrong token for heartbeat ${id}: its ping URL is shown by hop3-health heartbeats` });
      return;
    }
    const status = url.searchParams.get("status") ?? "ok";
    if (status !== "ok" && status !== "fail") {
      sendJson(res, 400, { error: `status=${JSON.stringify(status)}: expected ok or fail` });
      return;
    }
    const recorded = engine.heartbeats.record(id, status === "ok", url.searchParams.get("message") ?? undefined);
    engine.logger[recorded.ok ? "info" : "warn"]({ heartbeat: id, ok: recorded.ok }, `heartbeat ${id}: ${recorded.ok ? "reported in" : "reported a failure"}${recorded.message ? `: ${recorded.message}` : ""}`);
    sendJson(res, 200, { heartbeat: id, ...recorded });
    // Seen at once, not at the next cycle.
    void options.recheck("heartbeats", new Set([`heartbeat:${id}`]));
  };
}

/** The jobs' ping URLs: mounted before basic auth and the browser guard, the token being the job's whole credential. */
export function heartbeatRouter(options: OperatorApiOptions): Router {
  const app = Router();
  const beat = beatHandler(options);
  route(app, "/api/v1/heartbeats/:id/:token", { get: beat, post: beat });
  return app;
}

/** Maintenance windows and reloads. */
export function operatorRouter(options: OperatorApiOptions): Router {
  const app = Router();
  // A beat without the job's token: the operator's, with authority.
  const beat = beatHandler(options);
  route(app, "/api/v1/heartbeats/:id", { get: beat, post: beat });

  // Maintenance windows: GET lists the open ones; POST {"check", "for_seconds", "reason"} opens
  // one, {"check", "end": true} ends it.
  const openWindow = async (req: Request, res: Response): Promise<void> => {
    if (!requireWrite(req, res, "maintenance windows")) return;
    const parsed = maintenanceBody.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      sendJson(res, 400, { error: `${issue?.path.length ? `${issue.path.map(String).join(".")}: ` : ""}${issue?.message ?? "bad request"}` });
      return;
    }
    const body = parsed.data;
    const engine = options.engine();
    const known = (await engine.discover()).map((c) => c.id);
    if (!known.includes(body.check)) {
      sendJson(res, 404, { error: `no check ${body.check} on this server${didYouMean(body.check, known)}` });
      return;
    }
    if (body.end) {
      const ended = engine.maintenance.end(body.check);
      engine.logger.info({ check: body.check }, `maintenance of ${body.check} ${ended ? "ended" : "was not open"}`);
      sendJson(res, 200, { check: body.check, ended });
      return;
    }
    const window = engine.maintenance.start(body.check, body.for_seconds!, body.reason ?? "");
    engine.logger.info({ check: body.check, until: window.until }, `maintenance of ${body.check} until ${window.until}${window.reason ? `: ${window.reason}` : ""}`);
    sendJson(res, 200, window);
  };
  route(app, "/api/v1/maintenance", {
    get: (_req, res) => sendJson(res, 200, { windows: [...options.engine().maintenanceNow().values()], recurring: options.engine().recurring.view() }),
    post: [...jsonBody(16 * 1024), openWindow],
  });

  // `hop3-health restarts reset <app>`: the restart policy acts again on an app it gave up on.
  route(app, "/api/v1/restarts/reset", {
    post: [
      ...jsonBody(4 * 1024),
      (req: Request, res: Response) => {
        if (!requireWrite(req, res, "restart policy resets")) return;
        const app = (req.body as { app?: unknown } | undefined)?.app;
        if (typeof app !== "string" || app === "") {
          sendJson(res, 400, { error: 'expected {"app": "<name>"}' });
          return;
        }
        const reset = options.restarts.reset(app);
        sendJson(res, 200, { app, reset, policy: options.restarts.policyOf(app) });
      },
    ],
  });

  route(app, "/-/reload", {
    post: async (req, res) => {
      if (!requireWrite(req, res, "reloads")) return;
      const { ok, message } = await options.reload();
      sendJson(res, ok ? 200 : 500, ok ? { status: "reloaded", message } : { error: message });
    },
  });
  return app;
}
