// App health: one check `app:<name>` per app under HOP3_ROOT/apps (and per app named in
// `[apps.<name>]`). First, where Hop3 and uWSGI have it (src/engine/reconcile.ts): stopped on
// purpose (no vassal enabled) is a line of its own, ok; a crash loop fails; an app meant to run
// with no process and a port that refuses fails at once. Then its answer, which wins over what the
// process scan guessed: its declared endpoint answers 200–399 (or `[apps.<name>] accept_status`)
// with `contains` in its body, or, with no endpoint declared, it answers HTTP at `/` at all; and
// where nginx serves it (a server block naming it, a unix socket, a static site), nginx answers
// for it too, with its server name as Host and SNI, so a failure says which layer failed. A port
// answers for the app only if its listening socket is not another app's.
// HTTP runs every `[healthcheck] interval`, fails after `retries` failures in a row and is ok
// again after one success; with no history (a one-shot `status`, a fresh start), it retries
// within the check's timeout before it fails.

import type { AppSettings, HealthCheck, HealthCheckResult, Plugin, PluginContext, Severity } from "../src/health/model.js";
import { severityValue } from "../src/health/model.js";
import { appDirectory, appRuntimes, listApps, portOwner, type AppRuntime } from "../src/hop3/apps.js";
import { ManifestError, readManifest, type Manifest } from "../src/hop3/manifest.js";
import { nginxEntry, readNginxSite, type NginxSite } from "../src/hop3/nginx.js";
import { unixSocketRefuses } from "../src/hop3/sockets.js";
import { budgetMs } from "../src/lib/net.js";
import { appStateOf, deploys, livenessOf, type Liveness } from "../src/engine/reconcile.js";
import { respawnsOf } from "../src/engine/respawns.js";
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
  const state = typeof details.state === "string" ? details.state : "running";
  return {
    name: app,
    passed: severity === "ok",
    severity,
    message,
    details,
    measurements: [
      { name: "hop3_app_health_severity", value: severityValue(severity), labels: { app } },
      { name: "hop3_app_state", value: 1, labels: { app, state }, help: "1 for where Hop3 and uWSGI have the app: running (meant to run; its severity says how well), stopped, deploying or crash_loop." },
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
  const observe = async (): Promise<{ runtime: AppRuntime | null; live: Liveness }> => {
    if (!hasDir) return { runtime: null, live: { state: "unmanaged", message: "not under HOP3_ROOT/apps; watched over HTTP as [apps] configures it" } };
    const [runtime] = await appRuntimes(ctx.hop3Root, [app]);
    return { runtime: runtime!, live: await livenessOf(runtime!, configured) };
  };

  return {
    id,
    name: app,
    section: "Apps",
    // Every app is a line of its own, a stopped one too (ok, state "stopped").
    isConfigured: () => true,
    async check(signal): Promise<HealthCheckResult> {
      const { runtime, live } = await observe();
      const loop = respawnsOf(app);
      const base: Record<string, unknown> = {
        state: appStateOf(live),
        liveness: live.state,
        ...(runtime
          ? {
              workers: runtime.vassals.map((v) => `${v.kind}.${v.ordinal}`),
              processes: runtime.pids.length,
              processes_from: runtime.evidence === "emperor" ? "the uWSGI Emperor's process tree" : runtime.evidence === "hint" ? "command lines and working directories (no uWSGI Emperor of this root visible)" : "not visible to this user",
            }
          : {}),
        ...(loop.total > 0 ? { respawns: loop.total } : {}),
      };
      // The backing services it uses: published with its result, so an alert can tell a dead app from a dead database.
      const say = (severity: Severity, message: string, details: Record<string, unknown>): HealthCheckResult =>
        result(app, severity, message, details, runtime?.listen.dependencies);
      const remembered = memory.get(app) ?? seedMemory(ctx, id);
      memory.set(app, remembered);

      if (live.state === "deploying" || live.state === "stopped") {
        remembered.last = null;
        return say("ok", live.message, base);
      }
      if (live.state === "down" || live.state === "crash_loop") {
        remembered.severity = "fail";
        remembered.last = null;
        return say("fail", live.message, { ...base, reason: live.state === "crash_loop" ? "crash_loop" : live.reason });
      }
      let manifest: Manifest | undefined;
      try {
        manifest = hasDir ? await readManifest(appDirectory(ctx.hop3Root, app)) : undefined;
      } catch (error) {
        if (error instanceof ManifestError) return say("fail", error.message, { ...base, reason: "config", manifest: error.file, problem: error.problem });
        throw error;
      }
      applyDeployVerdict(app, remembered);
      // A worker-only app (no web kind) is healthy when it runs; when its processes cannot be seen, nothing can tell.
      if (runtime && !runtime.web && live.state !== "static") {
        if (live.state === "unseen") return say("warn", `${live.message}: it has no web worker, so whether it runs cannot be told; run hop3-health as user hop3 or root`, { ...base, reason: "permission" });
        return say("ok", live.message, base);
      }

      const interval = manifest?.interval !== undefined && manifest.interval > 0 ? manifest.interval : DEFAULTS.interval;
      const retries = Math.max(1, manifest?.retries ?? DEFAULTS.retries);
      // Probed every `interval` of its manifest, however often the cycles come.
      if (remembered.last && Date.now() - remembered.lastProbeAt < interval * 1000 - 50) return remembered.last;

      // Where nginx serves it under a name: a server block of Hop3's for it.
      const site = hasDir && runtime ? await readNginxSite(ctx.hop3Root, app) : undefined;
      const serverName = runtime?.listen.hostName ?? site?.serverNames[0];
      const viaNginx = site !== undefined && (site.passes || live.state === "static") && (serverName !== undefined || live.state === "static" || runtime?.listen.socket !== undefined);

      let direct: HttpTarget | undefined;
      let addressFrom: string | undefined;
      if (live.state !== "static" && !(runtime?.listen.socket !== undefined && runtime.listen.port === undefined && configured?.port === undefined && configured?.url === undefined)) {
        try {
          const address = await addressOf(app, appDirectory(ctx.hop3Root, app), appsCtx);
          if (address.kind === "http") {
            direct = { ...address.target, path: requestPath(address.urlPath ?? manifest?.path ?? "/") };
            addressFrom = address.source;
          }
        } catch (error) {
          if (!(error instanceof ProbeInputError)) throw error;
          if (!viaNginx) return say("fail", error.message, { ...base, reason: "config" });
        }
      }
      if (!direct && !viaNginx) {
        return live.state === "static"
          ? say("warn", `static site, but no nginx server block for it (${ctx.hop3Root}/nginx/${app}.conf): nothing serves it`, { ...base, reason: "config" })
          : say("fail", `no port known for '${app}' and no nginx server block to reach it through`, { ...base, reason: "config" });
      }
      const declaredPath = manifest?.path;
      // A static site is healthy when nginx serves its path as declared: 200–399 (or accept_status), not any answer.
      const expect = expectationFor(app, appsCtx, live.state === "static" || declaredPath !== undefined, manifest?.contains);
      const requestTimeoutMs = (manifest?.timeout !== undefined && manifest.timeout > 0 ? manifest.timeout : DEFAULT_REQUEST_TIMEOUT) * 1000;
      const budget = budgetMs(ctx, id).ms;
      const started = Date.now();
      const nginxTarget = viaNginx ? nginxTargetOf(site, serverName ?? "localhost", declaredPath ?? "/") : undefined;
      // Through nginx, a gateway error (502–504) is nginx saying it could not reach the app, whatever counts as an answer of the app's own.
      const nginxExpect: Expectation = expect.accept === null ? { accept: [[100, 501], [505, 599]], contains: expect.contains } : expect;
      const primary = (direct ?? nginxTarget)!;

      // With no history, one failure is not yet a verdict: try up to `retries` times within the timeout.
      const tries = remembered.last === null && remembered.failuresInARow === 0 && remembered.severity !== "fail" ? retries : 1;
      const ask = (target: HttpTarget): Promise<Attempt> => {
        const timeoutMs = Math.max(50, Math.min(requestTimeoutMs, budget - (Date.now() - started)));
        const wanted = target === nginxTarget ? nginxExpect : expect;
        return ctx.withServer(`${target.host}:${target.port}`, () => probeOnce(target, { timeoutMs, expect: wanted }, signal), signal);
      };
      const both = async (): Promise<{ attempt: Attempt; layer?: string }> => {
        const first = await ask(primary);
        if (!first.ok || !direct || !nginxTarget || signal.aborted) return { attempt: first, ...(!first.ok && !direct ? { layer: "nginx" } : {}) };
        const second = await ask(nginxTarget);
        return second.ok ? { attempt: first } : { attempt: second, layer: "nginx-only" };
      };
      let outcome: { attempt: Attempt; layer?: string } = { attempt: { ok: false, observed: "not tried", reason: "error" } };
      let made = 0;
      for (; made < tries; made++) {
        const left = budget - (Date.now() - started);
        if (made > 0 && left < 100) break;
        if (made > 0) await sleep(Math.min(250 * made, left / 4), signal);
        outcome = await both();
        if (outcome.attempt.ok || signal.aborted) break;
      }
      const { attempt } = outcome;
      remembered.lastProbeAt = Date.now();
      const details: Record<string, unknown> = {
        ...base,
        url: targetHref(primary),
        host_header: primary.hostHeader,
        ...(addressFrom !== undefined ? { address_from: addressFrom } : {}),
        ...(nginxTarget ? { via_nginx: targetHref(nginxTarget), server_name: nginxTarget.hostHeader } : {}),
        ...(manifest ? { manifest: manifest.file } : {}),
        retries,
        interval,
        observed: attempt.observed,
      };
      if (attempt.ok) {
        // The answer wins over the process scan, unless the port it came from is provably another app's.
        if (direct && runtime && runtime.evidence !== "invisible") {
          const owner = await portOwner(runtime, direct.host, direct.port);
          if (owner.kind === "other") {
            remembered.severity = "fail";
            remembered.last = say(
              "fail",
              `stopped unexpectedly: ${direct.host}:${direct.port} answers, but its listening socket is app ${owner.app}'s (pid ${owner.pid}), not ${app}'s`,
              { ...details, reason: "not_running", port_owner: `app:${owner.app}` },
            );
            return remembered.last;
          }
          if (owner.kind === "unknown") details.port_owner = owner.visible ? "no process attributed to an app" : "processes not visible to this user: judged by its answer alone";
        } else if (runtime?.evidence === "invisible") details.port_owner = "processes not visible to this user: judged by its answer alone";
        remembered.failuresInARow = 0;
        remembered.severity = "ok";
        const through = nginxTarget ? (direct ? `; nginx answers for ${nginxTarget.hostHeader} too` : ` through nginx for ${nginxTarget.hostHeader}`) : "";
        remembered.last = say("ok", `answered ${attempt.observed} at ${primary.path}${through}`, { ...details, failures_in_a_row: 0 });
        return remembered.last;
      }
      remembered.failuresInARow += tries > 1 ? Math.max(made, 1) : 1;
      const n = remembered.failuresInARow;
      let what = failureText(app, appsCtx, outcome.layer ? nginxTarget! : primary, attempt, expect);
      if (outcome.layer === "nginx-only") {
        what = `nginx ${attempt.status !== undefined ? `answers HTTP ${attempt.status}` : `is not answering (${attempt.observed})`} for ${nginxTarget!.hostHeader}; the app itself answers on ${direct!.host}:${direct!.port}: nginx cannot reach it or serve it`;
      } else if (outcome.layer === "nginx") {
        what = `through nginx for ${nginxTarget!.hostHeader}: ${what}`;
        const socket = runtime?.listen.socket;
        if (socket !== undefined && (await unixSocketRefuses(socket))) what += `; nothing accepts on ${socket}`;
      }
      const failureDetails = { ...details, failures_in_a_row: n, reason: attempt.reason ?? "error", ...(outcome.layer ? { failed_layer: "nginx" } : {}) };
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

/** A request to nginx for the app: its server name as Host and SNI, on the address nginx listens on. */
function nginxTargetOf(site: NginxSite | undefined, serverName: string, declaredPath: string): HttpTarget {
  const entry = nginxEntry(site);
  return { protocol: entry.tls ? "https:" : "http:", host: entry.host, port: entry.port, path: requestPath(declaredPath), hostHeader: serverName };
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
