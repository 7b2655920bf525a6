// Jobs that report in: backups, cron workers, queue consumers. A check `heartbeat:<id>` in the
// Jobs section for each `[heartbeats.<id>]` of the config; it fails when the last beat is older
// than `every` + `grace`, or reported a failure (POST /api/v1/heartbeats/<id>?status=fail).

import type { HealthCheckResult, Plugin, PluginContext } from "../src/health/model.js";
import { formatDuration } from "../src/lib/duration.js";

/** Grace after a beat is due, when none is configured: a tenth of the period, at least a minute. */
function defaultGrace(every: number): number {
  return Math.max(60, every / 10);
}

/** What the last beat (or its absence) says of a job that should report in every `every` seconds. */
function judge(ctx: PluginContext, id: string, every: number, grace: number): HealthCheckResult {
  const expected = `expected every ${formatDuration(every)}, grace ${formatDuration(grace)}`;
  const say = (severity: "ok" | "warn" | "fail", message: string, details: Record<string, unknown>, lastAt?: Date): HealthCheckResult => ({
    name: id,
    passed: severity === "ok",
    severity,
    message,
    details: { every_seconds: every, grace_seconds: grace, ...details },
    measurements: lastAt ? [{ name: "hop3_heartbeat_last_timestamp_seconds", value: lastAt.getTime() / 1000, labels: { heartbeat: id }, help: "When the job last reported in, Unix time." }] : [],
  });
  if (ctx.beats.problem !== undefined) return say("warn", ctx.beats.problem, { reason: "permission" });
  const now = Date.now();
  const beat = ctx.beats.last(id);
  if (!beat) {
    const since = ctx.beats.watchedSince(id);
    const waited = (now - since.getTime()) / 1000;
    return waited > every + grace
      ? say("fail", `never reported in: no beat in the ${formatDuration(waited)} since it was first watched (${expected})`, { reason: "late", watched_since: since.toISOString() })
      : say("ok", `waiting for its first beat, due within ${formatDuration(every + grace - waited)}`, { watched_since: since.toISOString() });
  }
  const at = new Date(beat.at);
  const age = (now - at.getTime()) / 1000;
  const said = beat.message ? `: ${beat.message}` : "";
  const details = { last_beat: beat.at, last_ok: beat.ok, ...(beat.message ? { last_message: beat.message } : {}) };
  if (!beat.ok) return say("fail", `reported a failure ${formatDuration(age)} ago${said}`, { ...details, reason: "error" }, at);
  if (age > every + grace) return say("fail", `late: last beat ${formatDuration(age)} ago (${expected})`, { ...details, reason: "late" }, at);
  return say("ok", `reported in ${formatDuration(age)} ago${said}`, details, at);
}

const plugin: Plugin = {
  name: "heartbeats",
  getHealthChecks: (ctx) =>
    Object.entries(ctx.heartbeats).map(([id, { every, grace = defaultGrace(every) }]) => ({
      id: `heartbeat:${id}`,
      name: id,
      section: "Jobs",
      isConfigured: () => true,
      check: () => Promise.resolve(judge(ctx, id, every, grace)),
    })),
};

export default plugin;
