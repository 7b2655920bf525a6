// The configuration file's shape, its defaults, and the environment variables over it.

import * as z from "#zod";
import { cronProblem } from "../engine/calendar.js";
import { parseDuration } from "../lib/duration.js";

// Each schema parses a handful of tables once: compiling a fast path for it (zod's default) costs more than it saves.
z.config({ jitless: true });

export const DEFAULTS = {
  hop3_root: "/home/hop3",
  listen: "0.0.0.0:9483",
  interval: 30,
  timeout: 5,
  connections_per_server: 4,
  log_level: "info",
  config_file: "/etc/hop3-health.toml",
  app_scan_interval: 2,
  hop3_etc_dir: "/etc/hop3",
} as const;

/** An HTTP status (404) or a range of them ("400-499"), as a [low, high] pair. */
const statusOrRange = z.pipe(
  z.union([z.number(), z.string()]),
  z.transform((value, ctx): [number, number] => {
    const match = typeof value === "number" ? [String(value), String(value), String(value)] : /^\s*(\d{3})\s*-\s*(\d{3})\s*$/.exec(value) ?? /^\s*((\d{3}))\s*$/.exec(value);
    const [lo, hi] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 100 || hi > 599 || lo > hi) {
      ctx.issues.push({ code: "custom", message: 'expected an HTTP status such as 404, or a range such as "400-499"', input: value });
      return z.NEVER;
    }
    return [lo, hi];
  }),
);

/** At most a day: a timer longer than 2^31 ms overflows, and no check should wait that long. */
const MAX_SECONDS = 86_400;
const seconds = z
  .number({ error: "expected a number of seconds" })
  .check(z.positive({ error: "must be more than 0 seconds" }), z.maximum(MAX_SECONDS, { error: `must be at most ${MAX_SECONDS} seconds (a day)` }));

const listenAddress = z
  .string()
  .check(
    z.regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:]*):\d{1,5}$/, { error: 'expected "host:port", such as "0.0.0.0:9483"' }),
    z.refine((v) => Number(v.slice(v.lastIndexOf(":") + 1)) <= 65535, { error: "port must be at most 65535" }),
  );

/** "24h", "30m", "1h30m" (as Prometheus writes durations). */
const restartPolicy = z.enum(["never", "on-failure", "always"], { error: 'expected "never", "on-failure" or "always"' });

const durationSetting = z.pipe(
  z.string(),
  z.transform((text, ctx): number => {
    const seconds = parseDuration(text);
    if (seconds === undefined) {
      ctx.issues.push({ code: "custom", message: 'expected a duration such as "30m", "24h" or "1h30m"', input: text });
      return z.NEVER;
    }
    return seconds;
  }),
);

/** The longest recurring maintenance window: a day. */
export const MAX_RECURRING_SECONDS = 86_400;

/** An id of a [heartbeats.<id>] or [maintenance.<id>] table. */
const settingId = () => z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: "expected an id of letters, digits, . _ or -" }));

/** A table's `schedule` and `tz`, as node-cron reads them (node-cron is loaded only when a schedule is there). */
const cronChecked = () =>
  z.superRefine((table: { schedule?: string | undefined; tz?: string | undefined }, ctx) => {
    if (table.schedule === undefined) return;
    const problem = cronProblem(table.schedule, table.tz);
    if (problem !== undefined) ctx.issues.push({ code: "custom", message: problem, input: table, path: [problem.startsWith("unknown time zone") ? "tz" : "schedule"] });
  });

/** A string that is not empty. */
export const nonEmpty = (): z.ZodMiniType<string, string> => z.string().check(z.minLength(1));
/** Basic auth users' password hashes, as exporter-toolkit takes them (here and in a web config file). */
export const bcryptUsers = (): z.ZodMiniType<Record<string, string>, Record<string, string>> =>
  z.record(nonEmpty(), z.string().check(z.regex(/^\$2[aby]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/, { error: "expected a bcrypt hash with a cost from 04 to 31, such as $2y$10$..." })));
const wholeNumber = (): z.ZodMiniType<number, number> => z.number().check(z.int({ error: "expected a whole number" }));

export const configSchema = z.strictObject({
  hop3_root: z._default(nonEmpty(), DEFAULTS.hop3_root),
  /** Where Hop3 keeps secret-key, redis-pass, s3-env and ssl/hop3.crt. */
  hop3_etc_dir: z._default(nonEmpty(), DEFAULTS.hop3_etc_dir),
  /**
   * How the platform's services are run: systemd units, supervisor programs, or neither (only
   * the process names and pidfiles the config gives). "auto": systemd when PID 1 is systemd, else
   * supervisor when `supervisorctl status` answers, else neither.
   */
  service_manager: z._default(z.enum(["auto", "systemd", "supervisor", "none"]), "auto"),
  listen: z._default(listenAddress, DEFAULTS.listen),
  interval: z._default(
    z
      .number({ error: "expected a number of seconds" })
      .check(z.minimum(1, { error: "must be at least 1 second" }), z.maximum(MAX_SECONDS, { error: `must be at most ${MAX_SECONDS} seconds (a day)` })),
    DEFAULTS.interval,
  ),
  timeout: z._default(seconds, DEFAULTS.timeout),
  /** At most this many checks at once; by default all of them (what costs is bounded below). */
  concurrency: z.optional(wholeNumber().check(z.minimum(1))),
  /** Connections open at once to one server (host:port) by the checks, whatever their number. */
  connections_per_server: z._default(wholeNumber().check(z.minimum(1)), DEFAULTS.connections_per_server),
  log_level: z._default(z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]), DEFAULTS.log_level),
  /** Where serve keeps its event log, heartbeats, maintenance windows, locks and operator socket. */
  state_dir: z.optional(nonEmpty()),
  events: z.optional(nonEmpty()),
  /** The event log is rotated past this size, keeping events_keep old files. */
  events_max_bytes: z._default(z.int().check(z.minimum(1024)), 10 * 1024 * 1024),
  events_keep: z._default(z.int().check(z.minimum(0), z.maximum(100)), 3),
  plugins: z._default(z.array(nonEmpty()), []),
  identity: z._default(
    z.strictObject({
      hostname: z.optional(nonEmpty()),
      ip: z.optional(nonEmpty()),
      version: z.optional(nonEmpty()),
    }),
    {},
  ),
  web: z._default(
    z
      .strictObject({
        /** Connections served at once; more are turned away, so a flood cannot take the checks' file descriptors. */
        max_connections: z._default(z.int().check(z.minimum(1), z.maximum(65_536)), 512),
        tls_cert_file: z.optional(nonEmpty()),
        tls_key_file: z.optional(nonEmpty()),
        basic_auth_users: z._default(bcryptUsers(), {}),
        /** More names a browser may reach this exporter by (its hostname, localhost and IP addresses always work); `*.example.com` for any under it. */
        hosts: z._default(z.array(nonEmpty()), []),
      })
      .check(
        z.refine((web) => (web.tls_cert_file === undefined) === (web.tls_key_file === undefined), {
          error: "tls_cert_file and tls_key_file go together",
          path: ["tls_key_file"],
        }),
      ),
    { basic_auth_users: {}, max_connections: 512, hosts: [] },
  ),
  checks: z._default(z.record(z.string(), z.record(z.string(), z.unknown(), { error: "expected a table" })), {}),
  /**
   * hop3-health's own settings per app (never in the app's hop3.toml, which Hop3 validates): where
   * it listens when LIVE_ENV does not say, and statuses beyond 200–399 that count as healthy.
   * Apps named here and not found under HOP3_ROOT/apps are watched too.
   */
  apps: z._default(
    z.record(
      z.string(),
      z.strictObject({
        port: z.optional(z.int().check(z.minimum(1), z.maximum(65535))),
        url: z.optional(z.url({ protocol: /^https?$/, error: 'expected a URL such as "http://127.0.0.1:8000"' })),
        accept_status: z.optional(z.array(statusOrRange).check(z.minLength(1))),
        /** This app's restart policy, over [restart] policy. */
        restart: z.optional(restartPolicy),
      }),
    ),
    {},
  ),
  /**
   * Restart policies (ADR 029): what hop3-health does about an app that fails. Nothing unless told
   * (policy "never"); see engine/restarts.ts for what each policy does.
   */
  restart: z._default(
    z
      .strictObject({
        policy: z._default(restartPolicy, "never"),
        failures_before_restart: z._default(z.int().check(z.minimum(1), z.maximum(100)), 2),
        backoff_initial: z._default(durationSetting, 10),
        backoff_max: z._default(durationSetting, 300),
        max_restarts: z._default(z.int().check(z.minimum(1), z.maximum(1000)), 5),
        window: z._default(durationSetting, 3600),
        command: z.optional(z.array(nonEmpty()).check(z.minLength(1))),
        dry_run: z._default(z.boolean(), false),
      })
      .check(
        z.refine((r) => r.backoff_initial >= 1, { error: "must be at least 1s", path: ["backoff_initial"] }),
        z.refine((r) => r.backoff_max >= r.backoff_initial, { error: "must be at least backoff_initial", path: ["backoff_max"] }),
        z.refine((r) => r.command === undefined || r.command[0]!.startsWith("/"), { error: 'the command is an argv list whose first item is an absolute path, such as ["/usr/local/bin/restart-app", "{app}"]', path: ["command"] }),
      ),
    { policy: "never", failures_before_restart: 2, backoff_initial: 10, backoff_max: 300, max_restarts: 5, window: 3600, dry_run: false },
  ),
  /** Seconds between two scans of the apps' vassals, processes and ports (0: no scan between cycles). */
  app_scan_interval: z._default(z.number({ error: "expected a number of seconds" }).check(z.minimum(0), z.maximum(MAX_SECONDS)), DEFAULTS.app_scan_interval),
  /**
   * Jobs that report in (POST /api/v1/heartbeats/<id>): a check heartbeat:<id> each, failing when
   * a beat is later than `every` + `grace` or reported a failure.
   */
  heartbeats: z._default(
    z.record(
      settingId(),
      z
        .strictObject({ every: z.optional(durationSetting), schedule: z.optional(z.string()), tz: z.optional(z.string()), grace: z.optional(durationSetting) })
        .check(
          z.refine((h) => (h.every === undefined) !== (h.schedule === undefined), { error: 'give every = "1h" or a cron schedule = "0 3 * * *", one of them' }),
          z.refine((h) => h.tz === undefined || h.schedule !== undefined, { error: "tz goes with a cron schedule", path: ["tz"] }),
          cronChecked(),
        ),
    ),
    {},
  ),
  /**
   * Recurring maintenance windows: from each run of `schedule` (cron, in `tz`) for `duration`, the
   * checks matching `checks` ("app:*", "postgresql") are in maintenance.
   */
  maintenance: z._default(
    z.record(
      settingId(),
      z
        .strictObject({
          schedule: z.string({ error: 'expected a cron expression such as "0 4 * * 0"' }),
          tz: z.optional(z.string()),
          duration: z.pipe(
            durationSetting,
            z.number().check(z.positive(), z.maximum(MAX_RECURRING_SECONDS, { error: "a recurring window lasts at most 24h (a longer one is a check to turn off)" })),
          ),
          checks: z.array(z.string().check(z.regex(/^[A-Za-z0-9:*?._-]+$/, { error: 'expected a check id or a pattern such as "app:*"' }))).check(z.minLength(1)),
          reason: z._default(z.string().check(z.maxLength(500)), ""),
        })
        .check(cronChecked()),
    ),
    {},
  ),
  probes: z._default(
    z.strictObject({
      /** Hosts besides loopback that deploy probes may be sent to. */
      allowed_hosts: z._default(
        z.array(z.string().check(z.regex(/^(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:]*:[0-9a-fA-F:.]+|[A-Za-z0-9._-]+)$/, { error: "expected a host name or address, not a URL" }))),
        [],
      ),
    }),
    { allowed_hosts: [] },
  ),
});

export type Config = z.infer<typeof configSchema>;

/** The keys every `[checks.<id>]` table takes. */
export const commonCheckSettings = z.strictObject({
  enabled: z._default(z.boolean(), true),
  timeout: z.optional(seconds),
  severity_on_failure: z.optional(z.enum(["warn", "fail"], { error: 'expected "warn" or "fail"' })),
});

/** The fixed environment variables of the contract and the config key each one sets. */
export const ENVIRONMENT: Record<string, readonly string[]> = {
  HOP3_ROOT: ["hop3_root"],
  HOP3_ETC_DIR: ["hop3_etc_dir"],
  HOP3_HEALTH_LISTEN: ["listen"],
  HOP3_HEALTH_INTERVAL: ["interval"],
  HOP3_HEALTH_TIMEOUT: ["timeout"],
  HOP3_HEALTH_EVENTS: ["events"],
  HOP3_HEALTH_STATE_DIR: ["state_dir"],
  HOP3_HEALTH_PLUGINS: ["plugins"],
  HOP3_POSTGRES_URL: ["checks", "postgresql", "url"],
  HOP3_MYSQL_URL: ["checks", "mysql", "url"],
  HOP3_REDIS_URL: ["checks", "redis", "url"],
  HOP3_S3_ENDPOINT: ["checks", "s3", "endpoint"],
  HOP3_S3_BUCKET: ["checks", "s3", "bucket"],
  HOP3_S3_ACCESS_KEY: ["checks", "s3", "access_key"],
  HOP3_S3_SECRET_KEY: ["checks", "s3", "secret_key"],
  HOP3_S3_REGION: ["checks", "s3", "region"],
};

/** Any other key: `HOP3_HEALTH__` then its path with `__` between parts, e.g. `HOP3_HEALTH__CHECKS__DISK_USAGE__WARN_PERCENT`. */
export const GENERIC_ENV_PREFIX = "HOP3_HEALTH__";

/** Keys whose values are secrets: never printed, and masked wherever they would appear. */
export const SECRET_KEY_PATTERN = /(password|passwd|secret|token|credential|basic_auth)/i;
