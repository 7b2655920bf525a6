// Puts the pieces together: configuration, plugins, check settings, discovery and the runner.
// `status` runs one cycle of it; `serve` keeps cycling.

import type { HealthCheck, PluginContext } from "../health/model.js";
import type { Cycle, Identity } from "../health/outcome.js";
import { makeRedactor, type Redactor } from "../health/redact.js";
import { loadConfig, type LoadedConfig, type LoadOptions } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { resolveCheckSettings, type CheckSettingsResolver } from "../config/settings.js";
import { createLogger, type Logger } from "../lib/logger.js";
import { discoverChecks } from "./discovery.js";
import { gatherIdentity } from "./identity.js";
import { loadPlugins, type LoadedPlugin, type PluginFailure } from "./plugins.js";
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
  discover(): Promise<HealthCheck[]>;
  runCycle(signal?: AbortSignal): Promise<Cycle>;
  identity(): Promise<Identity>;
}

export interface EngineOptions extends LoadOptions {
  /** Where logs go: 1 stdout (serve), 2 stderr (commands whose stdout is their output). */
  logFd?: 1 | 2;
  logLevel?: string;
  /** Extra plugin folders or files, as if listed in HOP3_HEALTH_PLUGINS (tests, benchmarks). */
  builtinChecksDir?: string;
}

export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const loaded = await loadConfig(options);
  const { config } = loaded;
  const redact = makeRedactor(loaded.secrets);
  const logger = createLogger({ level: options.logLevel ?? config.log_level, fd: options.logFd ?? 2, redact });
  const { plugins, failures } = await loadPlugins(loaded.pluginSpecs, options.builtinChecksDir);
  for (const failure of failures) logger.error({ plugin: failure.name }, redact(failure.message));
  const settings = resolveCheckSettings(
    config,
    plugins.map((p) => p.plugin),
    (keyPath) => loaded.originOf(keyPath),
  );

  const context: PluginContext = {
    configFor: (id) => settings.settingsFor(id),
    hop3Root: config.hop3_root,
    logger,
    appsConfig: config.apps,
  };

  let warnedUnmatched = false;
  const discover = async (): Promise<HealthCheck[]> => {
    const checks = await discoverChecks(plugins, failures, context, config.timeout);
    if (!warnedUnmatched) {
      warnedUnmatched = true;
      for (const id of settings.unmatchedTables(checks.map((c) => c.id))) {
        logger.warn(`${loaded.originOf(["checks", id])}: [checks.${id}] matches no check of this server`);
      }
    }
    return checks;
  };

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
    async runCycle(signal) {
      const checks = await discover();
      return runCycle(checks, {
        concurrency: config.concurrency,
        defaultTimeoutSeconds: config.timeout,
        settingsFor: (id) => settings.settingsFor(id),
        redact,
        ...(signal ? { signal } : {}),
      });
    },
    identity: () => gatherIdentity(config.hop3_root, config.identity),
  };
}
