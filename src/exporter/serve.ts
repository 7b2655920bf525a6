// `hop3-health serve`: verify the backing services, then run a check cycle every interval
// (never two at once) and serve the results over HTTP until SIGTERM or SIGINT.

import { setMaxListeners } from "node:events";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import type tls from "node:tls";
import { ConfigError, errorMessage } from "../lib/errors.js";
import { configSchema } from "../config/schema.js";
import { buildReport, summaryText } from "../report/report.js";
import { createEngine, eventsFileOf, type Engine } from "../engine/engine.js";
import { HeartbeatTokens } from "../engine/heartbeat-tokens.js";
import { RestartPolicies, takeRestartLock, type RestartOptions } from "../engine/restarts.js";
import { listApps } from "../hop3/apps.js";
import { prepareStateDir, stateFile } from "../engine/state-dir.js";
import { EventLog, type HealthEvent } from "../engine/events.js";
import { startAppWatch } from "../engine/reconcile.js";
import { startSchedules } from "../engine/schedules.js";
import { HealthState, type Transition } from "../engine/state.js";
import { verifyBackingServices } from "../engine/verify.js";
import { parseListen } from "../lib/net.js";
import express from "express";
import { NOT_FOUND, reportRouter } from "./app.js";
import { createBasicAuth, requireBasicAuth } from "./auth.js";
import { hostGuard, sameOriginWrites, viaOperatorSocket } from "./authority.js";
import { listenOnOperatorSocket, type OperatorSocket } from "./operator-socket.js";
import { heapKeeper } from "./heap.js";
import { finalHandlers } from "./http.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { heartbeatRouter, operatorRouter, type OperatorApiOptions } from "./operator-api.js";
import { probeRouter, recordVerdict } from "./probes.js";
import { systemdNotifier } from "./systemd.js";
import { clientCertificateAccepted, readWebConfigFile, reloadTlsOnChange, serverTlsOptions, webSettingsOf } from "./web-config.js";

/** At most `cap` connections: past it, the oldest one with no request under way is closed. */
function capConnections(server: http.Server | https.Server, event: "connection" | "secureConnection", cap: number): void {
  const open = new Map<net.Socket, { busy: number }>();
  server.on(event, (socket: net.Socket) => {
    open.set(socket, { busy: 0 });
    socket.once("close", () => open.delete(socket));
    if (open.size <= cap) return;
    for (const [other, state] of open) {
      if (other !== socket && state.busy === 0) {
        other.destroy();
        break;
      }
    }
  });
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const state = open.get(req.socket);
    if (!state) return;
    state.busy++;
    res.once("close", () => state.busy--);
  });
}

/** Whether `work` settled within `ms`. */
function within(ms: number, work: Promise<unknown>): Promise<boolean> {
  return Promise.race([work.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms).unref())]);
}

export interface ServeOptions {
  file?: string | undefined;
  /** exporter-toolkit's web configuration (serve --web.config.file). */
  webConfigFile?: string | undefined;
  /** serve --web.listen-address: over `listen`. */
  listenAddress?: string | undefined;
  /** Called as soon as the engine (and its logger) exists, before the exporter listens. */
  onEngine?: (engine: Engine) => void;
  env?: NodeJS.ProcessEnv;
}

export interface Exporter {
  engine: Engine;
  state: HealthState;
  metrics: Metrics;
  events: EventLog;
  /** The address it listens on, once listening. */
  address(): { host: string; port: number };
  /** Reads the configuration and plugins again, keeping the state; the running ones stay when the new ones do not load. */
  reload(): Promise<{ ok: boolean; message: string }>;
  /** Stops; resolves false when a cycle was stuck (a read the thread pool cannot finish) and was left behind. */
  stop(): Promise<boolean>;
}

function eventOf(transition: Transition): HealthEvent {
  return {
    time: transition.time.toISOString(),
    kind: "transition",
    check: transition.check,
    name: transition.name,
    section: transition.section,
    from: transition.from,
    to: transition.to,
    message: transition.message,
  };
}

export async function startExporter(options: ServeOptions = {}): Promise<Exporter> {
  // The engine (configuration, plugins, settings) is replaced by a reload; what is read of it at
  // run time is read through this binding. `config` is the one of the start: where it listens,
  // its TLS and basic auth and its event log are kept until a restart.
  let engine = await createEngine({ file: options.file, env: options.env ?? process.env, logFd: 1 });
  options.onEngine?.(engine);
  const { config } = engine;
  // How it serves: exporter-toolkit's web configuration file when given (one file for every
  // exporter of the host), else the [web] table. Checked now: a bad one refuses the start.
  if (options.webConfigFile !== undefined && (config.web.tls_cert_file !== undefined || Object.keys(config.web.basic_auth_users).length > 0)) {
    throw new ConfigError(`--web.config.file and ${engine.loaded.originOf(["web"])}: [web] TLS or basic auth: give them in one place, not both`);
  }
  const web = options.webConfigFile !== undefined ? await readWebConfigFile(options.webConfigFile) : webSettingsOf(config, (keyPath) => engine.loaded.originOf(keyPath));
  const secure = serverTlsOptions(web);
  const auth = createBasicAuth(web.users);
  // --web.listen-address, as node_exporter takes it, over `listen`.
  const listen = options.listenAddress ?? config.listen;
  const listenProblem = configSchema.shape.listen.safeParse(listen).error?.issues[0]?.message;
  if (listenProblem !== undefined) throw new ConfigError(`--web.listen-address ${JSON.stringify(listen)}: ${listenProblem}`);
  const listenOrigin = options.listenAddress !== undefined ? "--web.listen-address" : engine.loaded.originOf(["listen"]);

  // What serve writes goes in its own directory, which no other user may write.
  prepareStateDir(config, options.env);
  const tokens = new HeartbeatTokens(stateFile(config, "tokens", options.env));
  const state = new HealthState();
  const events = new EventLog(eventsFileOf(config), engine.logger, {
    maxBytes: config.events_max_bytes,
    keep: config.events_keep,
    redact: engine.redact,
  });
  keepHeartbeats(engine, tokens);
  const known = await events.open();
  state.restore(known);
  engine.restoreSeverities(known);
  // Restart policies: only the exporter that holds the lock in the state directory acts.
  let restartLock: ReturnType<typeof takeRestartLock> | undefined;
  const restartOptions = (): RestartOptions => {
    const { restart, apps, hop3_root } = engine.config;
    const wanted = restart.policy !== "never" || Object.values(apps).some((a) => a.restart !== undefined && a.restart !== "never");
    if (wanted && restartLock === undefined) {
      try {
        restartLock = takeRestartLock(stateFile(config, "lock", options.env));
      } catch (error) {
        restartLock = { held: false, holder: 0 };
        engine.logger.error(`restart lock cannot be taken (${errorMessage(error)}): restart policies only observe`);
      }
      if (!restartLock.held && restartLock.holder > 0) {
        engine.logger.warn(`another exporter (pid ${restartLock.holder}) holds the restart lock ${stateFile(config, "lock", options.env)}: this one only observes, and restarts nothing`);
      }
    }
    return {
      settings: restart,
      perApp: (app) => engine.config.apps[app]?.restart,
      hop3Root: hop3_root,
      logger: engine.logger,
      acts: restartLock?.held === true,
      apps: () => listApps(engine.config.hop3_root),
      record: (list) => void events.append(list).then(() => metrics.invalidate()),
      recheck: (app) => void recheckApps([app]),
    };
  };
  const restarts = new RestartPolicies(restartOptions());
  const metrics = createMetrics(state, {
    intervalSeconds: config.interval,
    logger: engine.logger,
    tls: secure !== null,
    maintenance: () => engine.maintenanceNow(),
    restarts: () => restarts.series(),
  });
  // Who this server is, from the start: hop3_server_info and the boot time need no cycle.
  state.setIdentity(await engine.identity());

  const shutdown = new AbortController();
  // Every check of a cycle listens to it: more than Node's ten before it warns of a leak.
  setMaxListeners(0, shutdown.signal);

  // A cycle and the checks re-run between cycles (an app that went down) never overlap, so a
  // cycle that started before a change cannot overwrite what was seen after it.
  let lock: Promise<unknown> = Promise.resolve();
  const exclusively = (work: () => Promise<void>): Promise<void> => {
    const run = lock.then(work);
    lock = run.catch(() => undefined);
    return run;
  };

  // Maintenance windows as they open (or move their end) and end, seen cycle by cycle: the
  // history leaves them out of uptime.
  let inMaintenance = new Map<string, string>();
  const maintenanceEvents = (): HealthEvent[] => {
    const open = new Map([...engine.maintenanceNow()].map(([check, w]) => [check, w.until]));
    const time = new Date().toISOString();
    const changed: HealthEvent[] = [
      ...[...open].filter(([c, until]) => inMaintenance.get(c) !== until).map(([check, until]) => ({ time, kind: "maintenance", check, state: "start", until, message: `maintenance window until ${until}` })),
      ...[...inMaintenance.keys()].filter((c) => !open.has(c)).map((check) => ({ time, kind: "maintenance", check, state: "end", message: "maintenance window ended" })),
    ];
    inMaintenance = open;
    return changed;
  };

  const publish = async (transitions: Transition[]): Promise<void> => {
    metrics.refresh();
    for (const t of transitions) {
      const line = `${t.name}: ${t.from ?? "new"} → ${t.to}: ${t.message}`;
      const fields = { check: t.check, from: t.from, to: t.to };
      if (t.to === "fail") engine.logger.error(fields, line);
      else if (t.to === "warn") engine.logger.warn(fields, line);
      else engine.logger.info(fields, line);
    }
    await events.append([...transitions.map(eventOf), ...maintenanceEvents()]);
  };

  let stopWatchingTls = (): void => undefined;
  let operatorSocket: OperatorSocket | null = null;
  const notifier = systemdNotifier(options.env ?? process.env, engine.logger);
  let readySent = false;
  let running: Promise<void> | null = null;
  let nextDue = 0;
  const cycle = async (): Promise<void> => {
    const started = Date.now();
    const cpu = process.cpuUsage();
    nextDue = started + engine.config.interval * 1000;
    try {
      const [result, identity] = await Promise.all([engine.runCycle(shutdown.signal), engine.identity()]);
      // A cycle cut short by shutdown says nothing about the checks: it is not recorded.
      if (shutdown.signal.aborted) return;
      const transitions = state.record(result, identity);
      await restarts.observe(result.outcomes, (check) => engine.maintenanceNow().has(check));
      await publish(transitions);
      // systemd: ready once the first cycle is in, then alive after every cycle that completes.
      if (notifier) {
        const status = `${result.outcomes.length} checks: ${summaryText(buildReport(identity, result))}`;
        if (readySent) notifier.watchdog(status);
        else notifier.ready(status);
        readySent = true;
      }
      const used = process.cpuUsage(cpu);
      engine.logger.debug({ seconds: (Date.now() - started) / 1000, cpu_seconds: (used.user + used.system) / 1e6, checks: result.outcomes.length }, "check cycle finished");
    } catch (error) {
      engine.logger.error(`check cycle failed: ${errorMessage(error)}`);
    }
  };

  /** Runs some checks of one plugin now, between cycles (an app that went down, a job that reported in), and publishes what they say. */
  const recheck = (plugin: string, ids: ReadonlySet<string>): Promise<void> =>
    exclusively(async () => {
      if (!state.lastCycle) return;
      // Only that plugin is asked: certificates and the rest are not read again for an app's change.
      const checks = (await engine.discover(plugin)).filter((check) => ids.has(check.id));
      const result = await engine.run(checks, shutdown.signal);
      if (shutdown.signal.aborted) return;
      const transitions = state.recordSome(ids, result.outcomes, result.skipped);
      await restarts.observe(result.outcomes, (check) => engine.maintenanceNow().has(check));
      await publish(transitions);
    }).catch((error: unknown) => engine.logger.error(`re-check of ${[...ids].join(", ")} failed: ${errorMessage(error)}`));
  const recheckApps = (apps: readonly string[]): Promise<void> => recheck("apps", new Set(apps.map((app) => `app:${app}`)));

  const watchApps = (): ReturnType<typeof startAppWatch> =>
    startAppWatch({
      hop3Root: engine.config.hop3_root,
      appsConfig: engine.config.apps,
      intervalSeconds: engine.config.app_scan_interval,
      logger: engine.logger,
      signal: shutdown.signal,
      onChange: async (apps, changes) => {
        await events.append(
          changes.map((c) => ({ time: new Date().toISOString(), kind: "app-state", check: `app:${c.app}`, app: c.app, state: c.state, message: c.message })),
        );
        for (const c of changes) engine.logger.info({ app: c.app, state: c.state }, `${c.app}: ${c.message}`);
        await recheckApps(apps);
      },
      onVerdict: (verdict) => recordVerdict(verdict, { engine: () => engine, metrics, events }, "deploy"),
    });
  let appWatch = watchApps();

  // Recurring maintenance windows open and end, and scheduled jobs fall due, at the minute.
  const schedule = (): { stop(): void } =>
    startSchedules(
      engine.config,
      {
        heartbeatDue: (id) => void recheck("heartbeats", new Set([`heartbeat:${id}`])),
        maintenanceChanged: () => {
          metrics.invalidate();
          void events.append(maintenanceEvents());
        },
      },
      engine.logger,
    );
  let schedules = schedule();

  /**
   * SIGHUP and POST /-/reload: the configuration and plugins read again, between cycles. The
   * state stays (severities, hysteresis, counters, the event log); a configuration that does not
   * load leaves the running one in place. Where it listens, TLS, basic auth and the event log's
   * place are kept until a restart.
   */
  const reload = async (): Promise<{ ok: boolean; message: string }> => {
    let outcome = { ok: false, message: "" };
    await exclusively(async () => {
      let next: Engine;
      try {
        next = await createEngine({ file: options.file, env: options.env ?? process.env, logFd: 1 });
      } catch (error) {
        metrics.reloaded(false, engine.config.interval);
        outcome = { ok: false, message: `reload failed, the running configuration stays: ${engine.redact(errorMessage(error))}` };
        engine.logger.error(outcome.message);
        return;
      }
      const kept: string[] = (["listen", "events"] as const).filter((key) => next.config[key] !== config[key]);
      if (JSON.stringify(next.config.web) !== JSON.stringify(config.web)) kept.push("web");
      next.restoreSeverities(new Map([...state.outcomes].map(([id, o]) => [id, o.severity])));
      engine = next;
      keepHeartbeats(engine, tokens);
      restarts.update(restartOptions());
      // A deploy probe under way goes on, and records its verdict, by itself: a reload never waits out its window.
      await appWatch.stop({ waitForProbes: false });
      appWatch = watchApps();
      schedules.stop();
      schedules = schedule();
      await appWatch.scan();
      metrics.reloaded(true, next.config.interval);
      outcome = { ok: true, message: `configuration reloaded from ${next.loaded.file ?? "the environment"}${kept.length > 0 ? `; ${kept.join(", ")} take effect at the next restart` : ""}` };
      next.logger.info(outcome.message);
    });
    return outcome;
  };

  // A cycle every interval from the start of the last one (a slow cycle delays the next rather
  // than stacking on top of it), timed to the millisecond.
  let timer: NodeJS.Timeout | undefined;
  const keepHeap = heapKeeper();
  const startCycle = (): void => {
    if (running || shutdown.signal.aborted) return;
    running = exclusively(cycle).finally(() => {
      running = null;
      keepHeap?.();
      if (!shutdown.signal.aborted) timer = setTimeout(startCycle, Math.max(0, nextDue - Date.now()));
    });
  };

  const exporter: Exporter = {
    get engine() {
      return engine;
    },
    reload,
    state,
    metrics,
    events,
    address: () => {
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("not listening");
      return { host: address.address, port: address.port };
    },
    stop: async () => {
      if (shutdown.signal.aborted) return true;
      notifier?.stopping();
      stopWatchingTls();
      schedules.stop();
      restarts.stop();
      clearTimeout(timer);
      shutdown.abort();
      // Checks are aborted; a read stuck in the thread pool (a FIFO a plugin opened) is not waited out.
      const settled = await within(5000, Promise.all([appWatch.stop(), running, lock]));
      if (!settled) engine.logger.warn("a check cycle did not end within 5s of the stop; stopping without it");
      // The last events are written, unless the thread pool that writes them is stuck too.
      const flushed = await within(2000, events.append([]));
      await operatorSocket?.close();
      if (restartLock?.held) restartLock.release();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return settled && flushed;
    },
  };

  const app = express();
  // No framework banner, no ETag computed over every scrape, and the query parsed as plain strings.
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  const headers = Object.entries(web.headers);
  if (headers.length > 0) {
    app.use((_req, res, next) => {
      for (const [name, value] of headers) res.setHeader(name, value);
      next();
    });
  }
  // A browser's request by a name this exporter does not answer to (DNS rebinding) is 421, and
  // no browser writes for another site.
  app.use(hostGuard(config.web.hosts, parseListen(listen).host));
  const operatorOptions: OperatorApiOptions = { engine: () => engine, tokens: () => tokens, recheck, reload, restarts };
  // A job's ping URL carries its own secret: it needs no basic auth, and a form may post to it.
  app.use(heartbeatRouter(operatorOptions), sameOriginWrites());
  // The operator socket's file mode is its authentication.
  if (auth) {
    const basic = requireBasicAuth(auth);
    app.use((req, res, next) => (viaOperatorSocket(req) ? next() : basic(req, res, next)));
  }
  app.use(
    reportRouter({
      state,
      metrics,
      events,
      timing: () => ({ intervalSeconds: engine.config.interval, timeoutSeconds: engine.config.timeout }),
      maintenance: () => engine.maintenanceNow(),
      scheduled: () => engine.recurring.view(),
    }),
  );
  app.use(probeRouter({ engine: () => engine, metrics, events, signal: shutdown.signal }));
  app.use(operatorRouter(operatorOptions));
  app.use(...finalHandlers(NOT_FOUND));
  // Bounded for clients that connect and say nothing, or too many at once: a connection that sends
  // no request in time is closed, and past max_connections the oldest idle one makes room for
  // the newcomer, so a flood neither takes the checks' file descriptors nor locks out a scrape.
  // A probe request lifts the idle timeout for itself.
  const limits = { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 };
  const server = secure ? https.createServer({ ...secure, ...limits }, app) : http.createServer(limits, app);
  server.timeout = 30_000;
  if (secure) {
    // Client certificate rules beyond Node's two options (one given but not verified, say).
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      if (!clientCertificateAccepted(web, socket)) socket.destroy();
    });
    stopWatchingTls = reloadTlsOnChange(server as https.Server, web, engine.logger);
  }
  capConnections(server, secure ? "secureConnection" : "connection", config.web.max_connections);
  const { host, port } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "EADDRINUSE" ? "address already in use" : error.code === "EACCES" ? "permission denied" : error.message;
      reject(new ConfigError(`${listenOrigin}: cannot listen on ${listen}: ${why}`));
    });
    server.listen(port, host, () => resolve());
  });
  operatorSocket = await listenOnOperatorSocket(stateFile(config, "socket", options.env), app, engine.logger);
  // Listening first: /-/healthy answers at once, /-/ready says 503 until the first cycle is in.
  const address = exporter.address();
  const where = `${secure ? "https" : "http"}://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}/`;
  engine.logger.info({ listen: `${address.host}:${address.port}`, tls: Boolean(secure), basic_auth: Boolean(auth) }, `listening on ${where}; checking backing services…`);
  await verifyBackingServices(engine, shutdown.signal);
  // The first scan only notes where every app stands; changes from there on are news.
  await appWatch.scan();
  engine.logger.info(
    { interval: config.interval, app_scan_interval: config.app_scan_interval, events: events.file },
    `serving on ${where} — status page, /metrics; a check cycle every ${config.interval}s, the first one now`,
  );

  startCycle();
  return exporter;
}

/**
 * Writes the heartbeats file at start, so that "watched since" outlives a restart, and makes each
 * job's token; a file it may not write is said once.
 */
function keepHeartbeats(engine: Engine, tokens: HeartbeatTokens): void {
  const ids = Object.keys(engine.config.heartbeats);
  if (ids.length === 0) return;
  try {
    engine.heartbeats.persist();
  } catch (error) {
    engine.logger.warn(`heartbeats file ${engine.heartbeats.file} cannot be written (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}): beats are kept in memory only`);
  }
  try {
    tokens.load(ids, true);
  } catch (error) {
    engine.logger.warn(`heartbeat tokens file ${tokens.file} cannot be read or written (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}): jobs can report in only with the operator's authority`);
  }
}

function exitHard(): never {
  process.kill(process.pid, "SIGKILL");
  // Not reached: SIGKILL ends the process at once.
  return process.exit(1);
}

/** The `serve` command: runs until SIGTERM or SIGINT, then stops cleanly and exits 0. */
export async function serveUntilSignalled(options: ServeOptions): Promise<never> {
  // A signal during start-up (startup verification can take a timeout) ends it as cleanly.
  const started: { exporter?: Exporter; engine?: Engine } = {};
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    const { exporter } = started;
    if (!exporter) {
      const line = `${signal} during start-up: stopping`;
      if (started.engine) started.engine.logger.info(line);
      else process.stdout.write(`${JSON.stringify({ level: "info", time: new Date().toISOString(), name: "hop3-health", msg: line })}\n`);
      process.exit(0);
    }
    const { logger } = exporter.engine;
    logger.info(`${signal}: stopping`);
    // Checks are aborted at once; this is only a guard against a stop that hangs.
    setTimeout(() => {
      logger.error("did not stop in time; exiting");
      exitHard();
    }, 15_000).unref();
    exporter.stop().then(
      (clean) => {
        if (clean) {
          logger.info("stopped");
          process.exit(0);
        }
        // Node cannot exit while a thread of its pool is blocked (it waits to join it): the
        // process ends itself the only way that does not wait.
        logger.error("stopped, but a file read is stuck in the thread pool (a FIFO?): ending the process with SIGKILL");
        exitHard();
      },
      (error: unknown) => {
        logger.error(`while stopping: ${errorMessage(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // SIGHUP reloads, as Prometheus and its exporters do; one that comes during start-up is ignored
  // (the configuration being loaded is the new one already).
  process.on("SIGHUP", () => {
    if (started.exporter && !stopping) void started.exporter.reload();
  });
  started.exporter = await startExporter({
    ...options,
    onEngine: (engine) => {
      started.engine = engine;
      options.onEngine?.(engine);
    },
  });
  return new Promise<never>(() => undefined);
}
