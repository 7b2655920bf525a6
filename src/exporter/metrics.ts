// The Prometheus view of the state: every metric of the contract, read from the last cycle at
// scrape time (a scrape never waits on a check), plus the checks' measurements, published
// generically, and prom-client's process metrics.

import { createRequire } from "node:module";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { SEVERITIES, severityValue, worstSeverity, type Measurement } from "../health/model.js";
import { strayErrors } from "../engine/engine.js";
import { respawnTotals } from "../engine/respawns.js";
import type { RestartPolicies } from "../engine/restarts.js";
import { abandonedChecks } from "../engine/runner.js";
import type { HealthState } from "../engine/state.js";
import type { Logger } from "../lib/logger.js";
import { exporterVersion } from "../lib/version.js";

const LAST_CYCLE = "as of the last check cycle";
/** Names a check's measurement may not take: the process metrics' families, and their histogram and summary series. */
const RESERVED = /^(process_|nodejs_)|_(bucket|count|sum|created|total)$/;

/**
 * The process metrics kept of prom-client's defaults: the process_* family every exporter has and
 * the V8 heap, from these of its collectors, each called as collectDefaultMetrics calls it
 * (prom-client/lib/metrics/, of the pinned prom-client), and the event loop's lag (below). The
 * other 60-odd series (per heap space, GC histogram, lag percentiles, active handles by type)
 * would cost every server of a fleet more than its checks do (bench/fleet-cost.ts), and their
 * collectors run for nothing: the GC one alone is a PerformanceObserver called after every
 * garbage collection (several a minute in an idle exporter with a 1 MB young generation).
 */
const PROCESS_COLLECTORS = ["processCpuTotal", "processStartTime", "osMemoryHeap", "processOpenFileDescriptors", "processMaxFileDescriptors", "heapSizeAndUsed"];
type Collector = (registry: Registry, config: object) => void;
const require = createRequire(import.meta.url);

/**
 * nodejs_eventloop_lag_seconds as prom-client measures it where it keeps no histogram: at each
 * scrape, how late a setImmediate runs (a scrape shows the one before's). prom-client's own
 * collector also samples the delay with a timer (10 ms apart by default: a hundred wake-ups a
 * second, 4 ms of CPU a second in an idle exporter) and works out seven percentiles at each
 * scrape, for series not published.
 */
function eventLoopLag(registry: Registry): void {
  const lag: Gauge = new Gauge({
    name: "nodejs_eventloop_lag_seconds",
    help: "Lag of event loop in seconds.",
    registers: [registry],
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
    },
  });
}

/** HELP of the measurements the contract names; others bring their own or get a generic one. */
const MEASUREMENT_HELP: Record<string, string> = {
  hop3_disk_size_bytes: `Size of the filesystem holding the path, as statfs reports it, ${LAST_CYCLE}.`,
  hop3_disk_available_bytes: `Bytes available to unprivileged users on the filesystem holding the path, ${LAST_CYCLE}.`,
  hop3_disk_usage_ratio: `Used / size of the filesystem holding the path (0..1), ${LAST_CYCLE}.`,
  hop3_certificate_not_after_timestamp_seconds: `Expiry (notAfter) of the certificate, Unix time, ${LAST_CYCLE}.`,
  hop3_certificate_self_signed: `1 if the certificate is self-signed, 0 if a CA issued it, ${LAST_CYCLE}.`,
  hop3_app_health_severity: `Continuous health of the app: 0 ok, 1 warn, 2 fail, ${LAST_CYCLE}.`,
  hop3_app_dependency: `1 for each backing service the app uses (from the addon URLs in its LIVE_ENV), ${LAST_CYCLE}.`,
};

export interface Metrics {
  /** hop3-health's own metrics; they change only when a cycle finishes or a probe is counted. */
  registry: Registry;
  /** The exposition: hop3-health's metrics (rendered once per change) and the process metrics (per scrape). */
  render(): Promise<string>;
  contentType: string;
  /** Call when the state changed outside a cycle (a probe counted). */
  invalidate(): void;
  deployProbes: Counter<"app" | "result">;
  deployProbeDuration: Histogram<"app">;
  /** Call after each cycle: publishes measurement names seen for the first time, and renders afresh. */
  refresh(): void;
  /** Call after a reload: whether it took, and the interval it set. */
  reloaded(ok: boolean, intervalSeconds: number): void;
}

export function createMetrics(
  state: HealthState,
  options: {
    intervalSeconds: number;
    logger: Logger;
    tls?: boolean;
    maintenance?: () => ReadonlyMap<string, unknown>;
    /** What the restart policies did, by app. */
    restarts?: () => ReturnType<RestartPolicies["series"]>;
  },
): Metrics {
  let intervalSeconds = options.intervalSeconds;
  const registry = new Registry();
  const processRegistry = new Registry();
  for (const name of PROCESS_COLLECTORS) (require(`prom-client/lib/metrics/${name}`) as Collector)(processRegistry, {});
  eventLoopLag(processRegistry);
  // With a thousand checks, rendering takes milliseconds; it is done once per change, not per scrape.
  let rendered: Promise<string> | null = null;
  const registers = [registry];

  new Gauge({
    name: "hop3_health_severity",
    help: `Severity of each configured check: 0 ok, 1 warn, 2 fail, ${LAST_CYCLE}.`,
    labelNames: ["check", "section"],
    registers,
    collect() {
      this.reset();
      for (const o of state.outcomes.values()) this.set({ check: o.check, section: o.section }, severityValue(o.severity));
    },
  });
  new Gauge({
    name: "hop3_health_check_configured",
    help: `1 if the check is configured on this server and runs, 0 if it is skipped, ${LAST_CYCLE}.`,
    labelNames: ["check", "section"],
    registers,
    collect() {
      this.reset();
      for (const o of state.outcomes.values()) this.set({ check: o.check, section: o.section }, 1);
      for (const s of state.skipped.values()) this.set({ check: s.check, section: s.section }, 0);
    },
  });
  new Gauge({
    name: "hop3_health_check_duration_seconds",
    help: `How long the check's last run took, in seconds, ${LAST_CYCLE}.`,
    labelNames: ["check"],
    registers,
    collect() {
      this.reset();
      for (const o of state.outcomes.values()) this.set({ check: o.check }, o.durationSeconds);
    },
  });
  new Gauge({
    name: "hop3_health_check_last_run_timestamp_seconds",
    help: "When the check last finished, Unix time: how fresh its result is.",
    labelNames: ["check"],
    registers,
    collect() {
      this.reset();
      for (const o of state.outcomes.values()) this.set({ check: o.check }, o.finishedAt.getTime() / 1000);
    },
  });
  new Gauge({
    name: "hop3_health_check_failure_reason",
    help: `1 for each check that is not ok, with why in one word (refused, timeout, dns, tls, expiry, auth, http_status, content, not_running, permission, config, capacity, error), ${LAST_CYCLE}.`,
    labelNames: ["check", "reason"],
    registers,
    collect() {
      this.reset();
      for (const o of state.outcomes.values()) if (o.reason !== undefined) this.set({ check: o.check, reason: o.reason }, 1);
    },
  });
  // Registered with the first cycle: before it nothing is known, and a gauge without labels
  // would say 0 (ok).
  const overall = new Gauge({
    name: "hop3_health_overall_severity",
    help: `The worst severity of all checks: 0 ok, 1 warn, 2 fail, ${LAST_CYCLE} (absent before the first one).`,
    registers: [],
    collect() {
      this.set(severityValue(worstSeverity([...state.outcomes.values()].map((o) => o.severity))));
    },
  });
  new Gauge({
    name: "hop3_health_interval_seconds",
    help: "Seconds between the starts of two check cycles, as configured.",
    registers,
    collect() {
      this.set(intervalSeconds);
    },
  });
  // Rendered at every scrape, not once per cycle: a window opened or ended between two cycles,
  // and an app's deploy, show at once.
  const live = new Registry();
  new Gauge({
    name: "hop3_health_maintenance",
    help: "1 while the check is in a maintenance window (opened by hand, or an app's deploy probe running): the shipped rules do not page for it.",
    labelNames: ["check"],
    registers: [live],
    collect() {
      this.reset();
      const open = options.maintenance?.() ?? new Map<string, unknown>();
      for (const check of state.outcomes.keys()) this.set({ check }, open.has(check) ? 1 : 0);
    },
  });
  // As Prometheus says it of itself: the configuration loaded at start counts as a successful load.
  const reloadOk = new Gauge({
    name: "hop3_health_config_last_reload_successful",
    help: "1 if the last reload of the configuration (SIGHUP, POST /-/reload) succeeded, 0 if it failed and the previous one stayed.",
    registers,
  });
  reloadOk.set(1);
  const reloadAt = new Gauge({
    name: "hop3_health_config_last_reload_success_timestamp_seconds",
    help: "When the configuration was last loaded successfully (at start or by a reload), Unix time.",
    registers,
  });
  reloadAt.set(Date.now() / 1000);
  new Gauge({
    name: "hop3_health_last_cycle_timestamp_seconds",
    help: "When the last check cycle finished, Unix time (0 before the first one).",
    registers,
    collect() {
      this.set(state.lastCycle ? state.lastCycle.finishedAt.getTime() / 1000 : 0);
    },
  });
  new Counter({
    name: "hop3_health_transitions_total",
    help: "Severity changes seen, by check and the severity it changed to.",
    labelNames: ["check", "to"],
    registers,
    collect() {
      this.reset();
      // Every configured check's series exist from the start, so increase() sees the first change.
      for (const check of state.outcomes.keys()) for (const to of SEVERITIES) this.inc({ check, to }, 0);
      for (const [check, counts] of state.transitionCounts) for (const [to, count] of counts) this.inc({ check, to }, count);
    },
  });
  new Gauge({
    name: "hop3_server_info",
    help: "Identity of this Hop3 server; always 1.",
    labelNames: ["hostname", "ip", "version"],
    registers,
    collect() {
      this.reset();
      if (state.identity) this.set({ hostname: state.identity.hostname, ip: state.identity.ip, version: state.identity.version }, 1);
    },
  });
  new Gauge({
    name: "hop3_server_boot_time_seconds",
    help: "When the host booted, Unix time (uptime = time() - this).",
    registers,
    collect() {
      this.reset();
      if (state.bootTimeSeconds !== null) this.set(state.bootTimeSeconds);
    },
  });
  const buildInfo = new Gauge({
    name: "hop3_exporter_build_info",
    help: "The hop3-health exporter's version and the Node.js it runs on; always 1.",
    labelNames: ["version", "nodejs"],
    registers,
  });
  buildInfo.set({ version: exporterVersion(), nodejs: process.version }, 1);
  new Gauge({
    name: "hop3_exporter_tls",
    help: "1 if the exporter serves HTTPS, 0 for plain HTTP: alert descriptions link its status page with the right scheme.",
    registers,
  }).set(options.tls ? 1 : 0);

  new Gauge({
    name: "hop3_health_check_abandoned",
    help: "Runs of the check still going after their timeout: it ignores its abort signal, and what it holds leaks.",
    labelNames: ["check"],
    registers,
    collect() {
      this.reset();
      for (const [check, count] of abandonedChecks()) this.set({ check }, count);
    },
  });
  new Counter({
    name: "hop3_exporter_stray_errors_total",
    help: "Unhandled rejections and uncaught exceptions (a plugin's, most likely) contained since start.",
    registers,
    collect() {
      this.reset();
      this.inc(strayErrors());
    },
  });

  const deployProbes = new Counter({
    name: "hop3_deploy_probe_total",
    help: "Deploy-time startup probes of apps, by verdict (success or failure).",
    labelNames: ["app", "result"],
    registers,
  });
  new Counter({
    name: "hop3_app_respawns_total",
    help: "Respawns uWSGI made of the app's vassal master or its attach-daemon processes, seen since this exporter started (new processes while its vassal files did not change).",
    labelNames: ["app"],
    registers,
    collect() {
      this.reset();
      for (const [app, total] of respawnTotals()) this.inc({ app }, total);
    },
  });
  new Counter({
    name: "hop3_app_restarts_total",
    help: "Restarts the restart policy made of the app, by what came of each: recovered, failing (the next try followed) or gave_up.",
    labelNames: ["app", "result"],
    registers,
    collect() {
      this.reset();
      for (const { app, totals } of options.restarts?.() ?? []) for (const [result, n] of Object.entries(totals)) this.inc({ app, result }, n);
    },
  });
  new Gauge({
    name: "hop3_app_restart_gave_up",
    help: "1 once the restart policy gave up on the app (max_restarts within window), until it has been healthy for window or an operator reset it.",
    labelNames: ["app"],
    registers,
    collect() {
      this.reset();
      for (const { app, gaveUp } of options.restarts?.() ?? []) this.set({ app }, gaveUp ? 1 : 0);
    },
  });
  new Gauge({
    name: "hop3_app_restart_next_seconds",
    help: "Seconds until the restart policy's next try for the app, as of the last check (absent when none is due).",
    labelNames: ["app"],
    registers,
    collect() {
      this.reset();
      for (const { app, nextInSeconds } of options.restarts?.() ?? []) if (nextInSeconds !== undefined) this.set({ app }, nextInSeconds);
    },
  });
  const deployProbeDuration = new Histogram({
    name: "hop3_deploy_probe_duration_seconds",
    help: "Time from a deploy probe's start to its verdict, in seconds.",
    labelNames: ["app"],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
    registers,
  });

  const measurementGauges = new Map<string, Gauge>();
  const warned = new Set<string>();
  const refresh = (): void => {
    rendered = null;
    if (state.lastCycle && !registry.getSingleMetric("hop3_health_overall_severity")) registry.registerMetric(overall);
    // A gauge's label names and help come from the first measurement of its name.
    const firstOfName = new Map<string, Measurement>();
    for (const o of state.outcomes.values()) for (const m of o.measurements) if (!firstOfName.has(m.name)) firstOfName.set(m.name, m);
    for (const [name, first] of firstOfName) {
      if (measurementGauges.has(name) || warned.has(name)) continue;
      if (registry.getSingleMetric(name) || live.getSingleMetric(name) || processRegistry.getSingleMetric(name) || RESERVED.test(name)) {
        warned.add(name);
        options.logger.warn(`a check reports a measurement named ${name}, which is taken by another metric; it is not published`);
        continue;
      }
      const labelNames = Object.keys(first.labels ?? {}).sort();
      measurementGauges.set(
        name,
        new Gauge({
          name,
          help: MEASUREMENT_HELP[name] ?? first.help ?? `Measurement ${name} reported by a check, ${LAST_CYCLE}.`,
          labelNames,
          registers,
          collect() {
            this.reset();
            for (const o of state.outcomes.values()) {
              for (const m of o.measurements) {
                if (m.name !== name) continue;
                const labels = m.labels ?? {};
                if (Object.keys(labels).sort().join() !== labelNames.join()) continue;
                this.set(labels, m.value);
              }
            }
          },
        }),
      );
    }
  };

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      rendered ??= registry.metrics();
      const [own, now, processMetrics] = await Promise.all([rendered, live.metrics(), processRegistry.metrics()]);
      return `${own}\n${now}\n${processMetrics}`;
    },
    invalidate() {
      rendered = null;
    },
    deployProbes,
    deployProbeDuration,
    refresh,
    reloaded(ok, interval) {
      reloadOk.set(ok ? 1 : 0);
      if (ok) {
        reloadAt.set(Date.now() / 1000);
        intervalSeconds = interval;
      }
      rendered = null;
    },
  };
}
