// App health: one check `app:<name>` per app under HOP3_ROOT/apps (and per app named in
// `[apps.<name>]`). First, is it running as it is meant to (vassals, processes, port; see
// src/engine/reconcile.ts): an app that should run and does not fails at once. An app with no
// vassal enabled is stopped on purpose and skipped; a static site is fine. Then, for an app with
// a web worker, HTTP: its declared endpoint answers 200–399 (or `[apps.<name>] accept_status`)
// with `contains` in its body, or, with no endpoint declared, it answers HTTP at `/` at all.
// HTTP runs every `[healthcheck] interval`, fails after `retries` failures in a row and is ok
// again after one success; with no history (a one-shot `status`, a fresh start), it retries
// within the check's timeout before it fails.

import type { AppSettings, HealthCheck, HealthCheckResult, Plugin, PluginContext, Severity } from "../src/health/model.js";
import { severityValue } from "../src/health/model.js";
import { appDirectory, appRuntimes, listApps, type AppRuntime } from "../src/hop3/apps.js";
import { ManifestError, readManifest, type Manifest } from "../src/hop3/manifest.js";
import { budgetMs } from "../src/lib/net.js";
import { deploys, livenessOf, type Liveness } from "../src/engine/reconcile.js";
import { probeOnce, requestPath, sleep, targetHref, type Attempt, type Expectation, type HttpTarget } from "../src/probe/probe.js";
import { addressOf, DEFAULT_REQUEST_TIMEOUT, expectationFor, expectationText, ProbeInputError, type AppsContext } from "../src/probe/target.js";
import * as z from "#zod";

/** `[healthcheck]` defaults where the manifest sets none. */
const DEFAULTS = { interval: 30, retries: 3 } as const;

/** What is remembered of each app between cycles (checks are made anew every cycle). */
interface AppMemory {
  severity: Severity;
  failuresInARow: number;
  lastProbeAt: number;
  last: HealthCheckResult | null;
  /** The deploy verdict already taken into account. */
  deploySeen?: number;
}
const memory = new Map<string, AppMemory>();

function result(app: string, severity: Severity, message: string, details: Record<string, unknown>, dependencies: readonly string[] = []): HealthCheckResult {
  return {
    name: app,
    passed: severity === "ok",
    severity,
    message,
    details,
    measurements: [
      { name: "hop3_app_health_severity", value: severityValue(severity), labels: { app } },
      ...dependencies.map((check) => ({ name: "hop3_app_dependency", value: 1, labels: { app, check } })),
    ],
  };
}

/** What one failed attempt means, in words: `answered HTTP 400 at / (healthy: 200–399; …)`, `not answering at /health: timed out`. */
function failureText(app: string, ctx: AppsContext, target: HttpTarget, attempt: Attempt, expect: Expectation): string {
  if (attempt.reason === "http_status") return `answered ${attempt.observed} at ${target.path} ${expectationText(app, ctx, expect)}`;
  if (attempt.reason === "content") return `answered HTTP ${attempt.status ?? "?"} at ${target.path} without "${expect.contains ?? ""}" in its first 256 KiB`;
  return `not answering at ${target.path}: ${attempt.observed}`;
}

function appCheck(ctx: PluginContext, app: string, hasDir: boolean): HealthCheck {
  const id = `app:${app}`;
  const appsCtx: AppsContext = { hop3Root: ctx.hop3Root, appsConfig: ctx.appsConfig, allowedHosts: ctx.allowedHosts };
  const configured: AppSettings | undefined = ctx.appsConfig[app];
  let seen: { runtime: AppRuntime | null; live: Liveness } | undefined;

  const observe = async (): Promise<{ runtime: AppRuntime | null; live: Liveness }> => {
    if (!hasDir) return { runtime: null, live: { state: "unmanaged", message: "not under HOP3_ROOT/apps; watched over HTTP as [apps] configures it" } };
    const [runtime] = await appRuntimes(ctx.hop3Root, [app]);
    return { runtime: runtime!, live: await livenessOf(runtime!, configured) };
  };

  return {
    id,
    name: app,
    section: "Apps",
    async isConfigured() {
      seen = await observe();
      return seen.live.state !== "stopped";
    },
    async check(signal): Promise<HealthCheckResult> {
      const { runtime, live } = seen ?? (await observe());
      seen = undefined;
      const base: Record<string, unknown> = {
        state: live.state,
        ...(runtime ? { workers: runtime.vassals.map((v) => `${v.kind}.${v.ordinal}`), processes: runtime.pids.length } : {}),
      };
      // The backing services it uses: published with its result, so an alert can tell a dead app from a dead database.
      const say = (severity: Severity, message: string, details: Record<string, unknown>): HealthCheckResult =>
        result(app, severity, message, details, runtime?.listen.dependencies);
      const remembered = memory.get(app) ?? seedMemory(ctx, id);
      memory.set(app, remembered);

      if (live.state === "deploying" || live.state === "static") return say("ok", live.message, base);
      if (live.state === "down") {
        remembered.severity = "fail";
        remembered.last = null;
        return say("fail", live.message, { ...base, reason: live.reason });
      }
      let manifest: Manifest | undefined;
      try {
        manifest = hasDir ? await readManifest(appDirectory(ctx.hop3Root, app)) : undefined;
      } catch (error) {
        if (error instanceof ManifestError) return say("fail", error.message, { ...base, reason: "config", manifest: error.file, problem: error.problem });
        throw error;
      }
      applyDeployVerdict(app, remembered);
      // A worker-only app (no web kind) is healthy when it runs.
      if (runtime && live.state === "running" && !runtime.web) return say("ok", live.message, base);

      const interval = manifest?.interval !== undefined && manifest.interval > 0 ? manifest.interval : DEFAULTS.interval;
      const retries = Math.max(1, manifest?.retries ?? DEFAULTS.retries);
      // Probed every `interval` of its manifest, however often the cycles come.
      if (remembered.last && Date.now() - remembered.lastProbeAt < interval * 1000 - 50) return remembered.last;

      let address;
      try {
        address = await addressOf(app, appDirectory(ctx.hop3Root, app), appsCtx);
      } catch (error) {
        if (error instanceof ProbeInputError) return say("fail", error.message, { ...base, reason: "config" });
        throw error;
      }
      if (address.kind === "static") return say("ok", "static site (PORT=0): nginx serves its files", base);
      const declaredPath = address.urlPath ?? manifest?.path;
      const target: HttpTarget = { ...address.target, path: requestPath(declaredPath ?? "/") };
      const expect = expectationFor(app, appsCtx, declaredPath !== undefined, manifest?.contains);
      const requestTimeoutMs = (manifest?.timeout !== undefined && manifest.timeout > 0 ? manifest.timeout : DEFAULT_REQUEST_TIMEOUT) * 1000;
      const budget = budgetMs(ctx, id).ms;
      const started = Date.now();
      // With no history, one failure is not yet a verdict: try up to `retries` times within the timeout.
      const tries = remembered.last === null && remembered.failuresInARow === 0 && remembered.severity !== "fail" ? retries : 1;
      let attempt: Attempt = { ok: false, observed: "not tried", reason: "error" };
      let made = 0;
      for (; made < tries; made++) {
        const left = budget - (Date.now() - started);
        if (made > 0 && left < 100) break;
        if (made > 0) await sleep(Math.min(250 * made, left / 4), signal);
        const timeoutMs = Math.max(50, Math.min(requestTimeoutMs, budget - (Date.now() - started)));
        attempt = await ctx.withServer(`${target.host}:${target.port}`, () => probeOnce(target, { timeoutMs, expect }, signal), signal);
        if (attempt.ok || signal.aborted) break;
      }
      remembered.lastProbeAt = Date.now();
      const details = {
        ...base,
        url: targetHref(target),
        host_header: target.hostHeader,
        address_from: address.source,
        ...(manifest ? { manifest: manifest.file } : {}),
        retries,
        interval,
        observed: attempt.observed,
      };
      if (attempt.ok) {
        remembered.failuresInARow = 0;
        remembered.severity = "ok";
        remembered.last = say("ok", `answered ${attempt.observed} at ${target.path}`, { ...details, failures_in_a_row: 0 });
        return remembered.last;
      }
      remembered.failuresInARow += tries > 1 ? Math.max(made, 1) : 1;
      const n = remembered.failuresInARow;
      const what = failureText(app, appsCtx, target, attempt, expect);
      const failureDetails = { ...details, failures_in_a_row: n, reason: attempt.reason ?? "error" };
      if (n >= retries || tries > 1 || remembered.severity === "fail") {
        remembered.severity = "fail";
        remembered.last = say("fail", retries > 1 ? `${what} (${n} failed probe${n === 1 ? "" : "s"} in a row)` : what, failureDetails);
      } else {
        // Not yet: it keeps the severity it had, and says what it saw.
        remembered.last = say(remembered.severity, `${what} (${n} of ${retries} failed probes before it fails)`, failureDetails);
      }
      return remembered.last;
    },
  };
}

/** A fresh memory: from the severity this check had before a restart, so a restart invents no recovery. */
function seedMemory(ctx: PluginContext, id: string): AppMemory {
  return { severity: ctx.lastKnownSeverity(id) ?? "ok", failuresInARow: 0, lastProbeAt: 0, last: null };
}

/** A deploy probe's verdict, once: success starts afresh; failure is the app's state until it answers. */
function applyDeployVerdict(app: string, remembered: AppMemory): void {
  const deploy = deploys.get(app);
  if (!deploy?.verdict || deploy.finishedAt === undefined || remembered.deploySeen === deploy.finishedAt) return;
  remembered.deploySeen = deploy.finishedAt;
  if (deploy.verdict.result === "success") {
    remembered.severity = "ok";
    remembered.failuresInARow = 0;
    remembered.last = null;
  } else {
    remembered.severity = "fail";
    remembered.failuresInARow = 0;
    remembered.last = null;
  }
  remembered.lastProbeAt = 0;
}

const plugin: Plugin = {
  name: "apps",
  settings: { "app:*": z.strictObject({}) },
  async getHealthChecks(ctx) {
    const found = await listApps(ctx.hop3Root);
    const names = [...new Set([...found, ...Object.keys(ctx.appsConfig)])].sort();
    // Apps that went away are forgotten.
    for (const app of memory.keys()) if (!names.includes(app)) memory.delete(app);
    return names.map((app) => appCheck(ctx, app, found.includes(app)));
  },
};

export default plugin;
