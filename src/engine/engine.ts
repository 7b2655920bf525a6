// Puts the pieces together: configuration, plugins, check settings, discovery and the runner.
// `status` runs one cycle of it; `serve` keeps cycling.

import type { CheckSettings, HealthCheck, PluginContext, Severity } from "../health/model.js";
import type { Cycle, Identity } from "../health/outcome.js";
import { stateFile } from "./state-dir.js";
import { makeRedactor, type Redactor } from "../health/redact.js";
import { loadConfig, type LoadedConfig, type LoadOptions } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { resolveCheckSettings, type CheckSettingsResolver } from "../config/settings.js";
import { discoverBackingServices, type DiscoveredService } from "../hop3/backing.js";
import { detectServiceManager } from "../hop3/service-managers.js";
import { keyedLimiter } from "../lib/limit.js";
import { createLogger, type Logger } from "../lib/logger.js";
import { discoverChecks } from "./discovery.js";
import { gatherIdentity } from "./identity.js";
import { loadPlugins, type LoadedPlugin, type PluginFailure } from "./plugins.js";
import { errorMessage } from "../lib/errors.js";
import { HeartbeatStore } from "./heartbeats.js";
import { MaintenanceStore, RecurringWindows, type Window } from "./maintenance.js";
import { deploys } from "./reconcile.js";
import { runCycle } from "./runner.js";

export interface Engine {
  config: Config;
  loaded: LoadedConfig;
  logger: Logger;
  redact: Redactor;
  plugins: LoadedPlugin[];
  pluginFailures: PluginFailure[];
  settings: CheckSettingsResolver;
  context: PluginContext;
  /** The checks of every plugin, or of the one named (the app scan re-checks apps alone). */
  discover(plugin?: string): Promise<HealthCheck[]>;
  /** One cycle of every check discovered now. */
  runCycle(signal?: AbortSignal): Promise<Cycle>;
  /** One cycle of the given checks, with this configuration's settings and bounds. */
  run(checks: readonly HealthCheck[], signal?: AbortSignal): Promise<Cycle>;
  identity(): Promise<Identity>;
  /** Maintenance windows opened by hand (hop3-health maintenance, POST /api/v1/maintenance). */
  maintenance: MaintenanceStore;
  /** The recurring windows of [maintenance.<id>]. */
  recurring: RecurringWindows;
  /** The windows open now: those opened by hand, the recurring ones, and every app whose deploy probe is running. */
  maintenanceNow(): Map<string, Window>;
  /** The jobs' beats, which POST /api/v1/heartbeats/<id> records. */
  heartbeats: HeartbeatStore;
  /** Severities known from before this process started (the event log), for checks with memory. */
  restoreSeverities(severities: ReadonlyMap<string, Severity>): void;
}

export interface EngineOptions extends LoadOptions {
  /** Where logs go: 1 stdout (serve), 2 stderr (commands whose stdout is their output). */
  logFd?: 1 | 2;
  logLevel?: string;
  /** Readable log lines instead of JSON; by default when the log goes to a terminal. */
  prettyLogs?: boolean;
  /** Where logs go instead of logFd. */
  logStream?: NodeJS.WritableStream;
  /** The folder of built-in plugins, when not checks/ (benchmarks). */
  builtinChecksDir?: string;
}

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const loaded = await loadConfig(options);
  const { config } = loaded;
  const discovered = await adoptHop3Settings(config, options.env ?? process.env);
  const redact = makeRedactor([...loaded.secrets, ...[...discovered.values()].flatMap((d) => d.secrets)]);
  const logger = createLogger({
    level: options.logLevel ?? config.log_level,
    fd: options.logFd ?? 2,
    redact,
    ...(options.prettyLogs !== undefined ? { pretty: options.prettyLogs } : {}),
    ...(options.logStream ? { stream: options.logStream } : {}),
  });
  routeProcessWarnings(logger);
  const { plugins, failures } = await loadPlugins(loaded.pluginSpecs, options.builtinChecksDir);
  for (const failure of failures) logger.error({ plugin: failure.name }, redact(failure.message));
  const settings = await resolveCheckSettings(
    config,
    plugins.map((p) => p.plugin),
    (keyPath) => loaded.originOf(keyPath),
  );

  const heartbeats = new HeartbeatStore(stateFile(config, "heartbeats", options.env), redact);
  heartbeats.load(config.heartbeats);
  const maintenance = new MaintenanceStore(stateFile(config, "maintenance", options.env));
  const recurring = new RecurringWindows(config.maintenance);
  /** The check ids of the last discovery: what a recurring window's patterns are matched against. */
  let knownIds: string[] = [];
  const knownSeverities = new Map<string, Severity>();
  const context: PluginContext = {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed view of a validated table
    configFor: <T extends object>(id: string) => settings.settingsFor(id) as CheckSettings & T,
    timeoutFor: (id) => settings.settingsFor(id).timeout ?? config.timeout,
    hop3Root: config.hop3_root,
    hop3EtcDir: config.hop3_etc_dir,
    serviceManager: memoize(() => detectServiceManager(config.service_manager)),
    logger,
    appsConfig: config.apps,
    allowedHosts: config.probes.allowed_hosts,
    lastKnownSeverity: (id) => knownSeverities.get(id),
    withServer: keyedLimiter(config.connections_per_server),
    heartbeats: config.heartbeats,
    beats: heartbeats,
    discovered: (id) => {
      const found = discovered.get(id);
      return found && { from: found.from, ...(found.passwordFrom ? { passwordFrom: found.passwordFrom } : {}), ...(found.problem ? { problem: found.problem } : {}) };
    },
  };

  let warnedUnmatched = false;
  const discover = async (plugin?: string): Promise<HealthCheck[]> => {
    if (plugin !== undefined) return discoverChecks(plugins.filter((p) => p.plugin.name === plugin), [], context, config.timeout);
    const checks = await discoverChecks(plugins, failures, context, config.timeout);
    knownIds = checks.map((c) => c.id);
    if (!warnedUnmatched) {
      warnedUnmatched = true;
      for (const id of settings.unmatchedTables(checks.map((c) => c.id))) {
        logger.warn(`${loaded.originOf(["checks", id])}: [checks.${id}] matches no check of this server`);
      }
    }
    return checks;
  };

  const run = (checks: readonly HealthCheck[], signal?: AbortSignal): Promise<Cycle> =>
    runCycle(checks, {
      concurrency: config.concurrency,
      defaultTimeoutSeconds: config.timeout,
      settingsFor: (id) => settings.settingsFor(id),
      redact,
      onLeak: (message) => logger.warn(message),
      ...(signal ? { signal } : {}),
    });

  return {
    config,
    loaded,
    logger,
    redact,
    plugins,
    pluginFailures: failures,
    settings,
    context,
    discover,
    run,
    runCycle: async (signal) => run(await discover(), signal),
    heartbeats,
    maintenance,
    recurring,
    maintenanceNow: () => {
      const open = maintenance.current();
      for (const [check, window] of recurring.openFor(knownIds)) {
        const other = open.get(check);
        if (!other || other.until < window.until) open.set(check, window);
      }
      // No page during a deploy: the app is in maintenance while its startup probe runs.
      for (const [app, deploy] of deploys) {
        if (deploy.finishedAt !== undefined || open.has(`app:${app}`)) continue;
        const until = new Date(deploy.startedAt + deploy.window * 1000).toISOString();
        open.set(`app:${app}`, { check: `app:${app}`, until, reason: "deploy: startup probe running", started: new Date(deploy.startedAt).toISOString() });
      }
      return open;
    },
    identity: () => gatherIdentity(config.hop3_root, config.identity),
    restoreSeverities: (severities) => {
      for (const [id, severity] of severities) knownSeverities.set(id, severity);
    },
  };
}

/**
 * The backing services Hop3's own files configure, adopted for every check whose table does
 * not say where its server is: explicit settings (and the HOP3_*_URL variables) win.
 */
async function adoptHop3Settings(config: Config, env: NodeJS.ProcessEnv): Promise<Map<string, DiscoveredService>> {
  const adopted = new Map<string, DiscoveredService>();
  for (const found of await discoverBackingServices(config.hop3_root, config.hop3_etc_dir, env)) {
    const table = config.checks[found.check] ?? {};
    const explicit = found.check === "s3" ? table.endpoint !== undefined || table.bucket !== undefined : table.url !== undefined;
    if (explicit) continue;
    config.checks[found.check] = { ...found.settings, ...table };
    adopted.set(found.check, found);
  }
  return adopted;
}

function memoize<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/**
 * Node prints process warnings (a library's deprecation notice, say) straight to stderr; here
 * they go to the log at debug level instead, so the report and the log stay clean.
 */
function routeProcessWarnings(logger: Logger): void {
  process.removeAllListeners("warning");
  process.on("warning", (warning) => logger.debug({ warning: warning.name }, warning.message));
  // A plugin's stray rejection or a throw in one of its timers is logged and counted
  // (hop3_exporter_stray_errors_total), not allowed to end the exporter.
  if (!strayHandlersInstalled) {
    strayHandlersInstalled = true;
    const contain = (what: string) => (error: unknown) => {
      strayErrorCount++;
      logger.error({ stray: what }, `${what} (a plugin's, most likely), contained: ${errorMessage(error)}`);
    };
    process.on("unhandledRejection", contain("an unhandled promise rejection"));
    process.on("uncaughtException", contain("an uncaught exception"));
  }
}

let strayHandlersInstalled = false;
let strayErrorCount = 0;

/** Stray errors contained since start. */
export function strayErrors(): number {
  return strayErrorCount;
}

/** The event log's file: `events`, else events.jsonl in the state directory. */
export function eventsFileOf(config: Config): string {
  return stateFile(config, "events");
}
