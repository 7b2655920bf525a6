// Jobs that report in: backups, cron workers, queue consumers. A check `heartbeat:<id>` in the
// Jobs section for each `[heartbeats.<id>]` of the config. A job reports in every `every`, or on a
// cron `schedule` in its time zone `tz` (as healthchecks.io reckons it: a beat is due by the first
// run after the last one). It fails when no beat came by then + `grace`, or when the last beat
// reported a failure (POST /api/v1/heartbeats/<id>?status=fail).

import type { HealthCheckResult, HeartbeatSetting, Plugin, PluginContext } from "../src/health/model.js";
import { localTime } from "../src/engine/calendar.js";
import { graceOf } from "../src/engine/heartbeats.js";
import { formatDuration } from "../src/lib/duration.js";

type Say = (severity: "ok" | "warn" | "fail", message: string, details: Record<string, unknown>, lastAt?: Date) => HealthCheckResult;

/** What the last beat (or its absence) says of a job. */
function judge(ctx: PluginContext, id: string, setting: HeartbeatSetting): HealthCheckResult {
  const grace = graceOf(setting);
  const said = setting.schedule !== undefined ? { schedule: setting.schedule, tz: setting.tz ?? "UTC" } : { every_seconds: setting.every };
  const say: Say = (severity, message, details, lastAt) => ({
    name: id,
    passed: severity === "ok",
    severity,
    message,
    details: { ...said, grace_seconds: grace, ...details },
    measurements: lastAt ? [{ name: "hop3_heartbeat_last_timestamp_seconds", value: lastAt.getTime() / 1000, labels: { heartbeat: id }, help: "When the job last reported in, Unix time." }] : [],
  });
  if (ctx.beats.problem !== undefined) return say("warn", ctx.beats.problem, { reason: "permission" });
  const beat = ctx.beats.last(id);
  if (beat && !beat.ok) {
    const at = new Date(beat.at);
    return say("fail", `reported a failure ${formatDuration((Date.now() - at.getTime()) / 1000)} ago${beat.message ? `: ${beat.message}` : ""}`, { ...lastBeat(beat), reason: "error" }, at);
  }
  return setting.schedule !== undefined ? onSchedule(ctx, id, setting, grace, say) : everyPeriod(ctx, id, setting.every!, grace, say);
}

function lastBeat(beat: { at: string; ok: boolean; message?: string }): Record<string, unknown> {
  return { last_beat: beat.at, last_ok: beat.ok, ...(beat.message ? { last_message: beat.message } : {}) };
}

function everyPeriod(ctx: PluginContext, id: string, every: number, grace: number, say: Say): HealthCheckResult {
  const expected = `expected every ${formatDuration(every)}, grace ${formatDuration(grace)}`;
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
  if (age > every + grace) return say("fail", `late: last beat ${formatDuration(age)} ago (${expected})`, { ...lastBeat(beat), reason: "late" }, at);
  return say("ok", `reported in ${formatDuration(age)} ago${beat.message ? `: ${beat.message}` : ""}`, lastBeat(beat), at);
}

function onSchedule(ctx: PluginContext, id: string, setting: HeartbeatSetting, grace: number, say: Say): HealthCheckResult {
  const due = ctx.beats.dueBy(id);
  const beat = ctx.beats.last(id);
  const at = beat && new Date(beat.at);
  const details = { ...(beat ? lastBeat(beat) : { watched_since: ctx.beats.watchedSince(id).toISOString() }), ...(due ? { due_by: due.toISOString() } : {}) };
  const dueText = due ? `${localTime(due, setting.tz)} + grace ${formatDuration(grace)}` : "";
  if (due && Date.now() > due.getTime() + grace * 1000) {
    const last = at ? `last beat ${formatDuration((Date.now() - at.getTime()) / 1000)} ago` : "never reported in since it was first watched";
    return say("fail", `late: the run of ${dueText} did not report in (schedule "${setting.schedule!}"); ${last}`, { ...details, reason: "late" }, at);
  }
  const next = due ? `; next run due by ${dueText}` : "";
  if (!at) return say("ok", `waiting for its first beat${next}`, details);
  return say("ok", `reported in ${formatDuration((Date.now() - at.getTime()) / 1000)} ago${beat.message ? `: ${beat.message}` : ""}${next}`, details, at);
}

const plugin: Plugin = {
  name: "heartbeats",
  getHealthChecks: (ctx) =>
    Object.entries(ctx.heartbeats).map(([id, setting]) => ({
      id: `heartbeat:${id}`,
      name: id,
      section: "Jobs",
      isConfigured: () => true,
      check: () => Promise.resolve(judge(ctx, id, setting)),
    })),
};

export default plugin;
