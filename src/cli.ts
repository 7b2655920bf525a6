// hop3-health [--config FILE] <command>: thin commands over the engine and the renderers.
// Each command's modules are imported when it runs, so that `--help` and `--version` load next to
// nothing, `status` loads no web stack, and a driver is loaded only by the check that uses it.

import { writeSync } from "node:fs";
import { parseArgs } from "node:util";
import type { CommandOutput } from "./commands/output.js";
import { maskUrlCredentials } from "./health/redact.js";
import { ConfigError, errorMessage, InputError } from "./lib/errors.js";
import { didYouMean } from "./lib/suggest.js";
import { exporterVersion } from "./lib/version.js";

const UNKNOWN = 3;

/** Each command's usage: `hop3-health <command> --help`. */
const COMMANDS: Record<string, { usage: string; options: string[]; positionals: number }> = {
  serve: {
    usage: `Usage: hop3-health [--config FILE] serve [--web.config.file FILE] [--web.listen-address HOST:PORT]

Runs the exporter: every check on a schedule, and over HTTP the status page (/), /metrics,
/status, /-/healthy, /-/ready, /api/v1/events, POST /api/v1/probes and POST /-/reload.
Stops on SIGTERM or SIGINT; SIGHUP reloads the configuration.
  --web.config.file FILE          TLS, client certificates, headers and basic auth from
                                  exporter-toolkit's YAML, as node_exporter reads it
  --web.listen-address HOST:PORT  where it listens, over \`listen\` of the configuration
`,
    options: ["web.config.file", "web.listen-address"],
    positionals: 0,
  },
  status: {
    usage: `Usage: hop3-health [--config FILE] status [--json | --quiet] [--no-color] [--url URL] [--check ID] [--perfdata]

Runs every check once here and prints the report, or with --url reads a running exporter's
(http://host:9483, or http://user:password@host:9483 behind basic auth).
  --json       the report as one JSON object
  --quiet      one line: OK, DEGRADED: ..., or FAILED: ...
  --no-color   no colours, even on a terminal
  --check ID   one check only (disk-usage, postgresql, app:NAME...), said on one line and
               exiting by its severity: a Nagios or Icinga plugin
  --perfdata   with --quiet or --check: performance data after a "|", as Nagios reads it
               ('disk_usage'=84%;80;90;0;100 'disk-usage_duration'=0.002s;;;0)
Exit codes: 0 ok, 1 warn, 2 fail, 3 unknown (bad usage, bad config, an unknown check, internal error).
`,
    options: ["json", "quiet", "no-color", "url", "check", "perfdata"],
    positionals: 0,
  },
  probe: {
    usage: `Usage: hop3-health [--config FILE] probe APP [--url URL | --port N] [--path P] [--contains S] [--timeout SECONDS] [--dry-run]

The deploy-time startup probe of an app: polls its health endpoint until it answers well or the
window closes. Asks the local exporter to run it, so the verdict is counted as a deploy.
  --dry-run    a trial by hand: probe here, and do not count or record the verdict
Exit codes: 0 the app answered, 2 it did not, 3 bad input.
`,
    options: ["url", "port", "path", "contains", "timeout", "dry-run"],
    positionals: 1,
  },
  maintenance: {
    usage: `Usage: hop3-health [--config FILE] maintenance start CHECK --for DURATION [--reason TEXT]
       hop3-health [--config FILE] maintenance list
       hop3-health [--config FILE] maintenance end CHECK

A maintenance window: the check (disk-usage, postgresql, app:NAME...) still runs and shows,
marked "in maintenance until ...", and the shipped alert rules do not page for it until the
window ends, by itself or with "end". DURATION as Prometheus writes it: 30m, 2h, 1h30m (at most 30d).
An app is in maintenance by itself while its deploy probe runs.
`,
    options: ["for", "reason"],
    positionals: 2,
  },
  reload: {
    usage: `Usage: hop3-health [--config FILE] reload

Asks the running exporter to read its configuration again (as SIGHUP does), over its operator
socket, and says whether it took it. Exit codes: 0 reloaded, 2 the new configuration was refused
(the running one stays), 3 no exporter answered.
`,
    options: [],
    positionals: 0,
  },
  heartbeats: {
    usage: `Usage: hop3-health [--config FILE] heartbeats [ID]

Each job's ping URL: the job reports in with an HTTP GET or POST on it (its secret is in the URL,
so it needs no other credentials and cannot report for another job).
`,
    options: [],
    positionals: 1,
  },
  restarts: {
    usage: `Usage: hop3-health [--config FILE] restarts reset APP

Lets the restart policy act again on an app it gave up on (max_restarts within window), from a
fresh backoff, as if the app had been healthy for the whole window. Asks the running exporter over
its operator socket.
`,
    options: [],
    positionals: 2,
  },
  "check-config": {
    usage: `Usage: hop3-health check-config [FILE]

Validates a configuration file (or the one --config, HOP3_HEALTH_CONFIG or /etc/hop3-health.toml
names) and exits: 0 valid, 1 a [checks.<id>] table matches no check of this server, 3 invalid.
`,
    options: [],
    positionals: 1,
  },
};

const USAGE = `Usage: hop3-health [--config FILE] <command>

Commands:
  serve [--web.config.file FILE] [--web.listen-address HOST:PORT]
                            run the exporter: checks on a schedule, /metrics, /status
  status [--json] [--quiet] [--no-color] [--url URL] [--check ID] [--perfdata]
                            run every check once (or read a running exporter) and print the report
  probe APP [--url URL | --port N] [--path P] [--contains S] [--timeout SECONDS] [--dry-run]
                            the deploy-time startup probe of an app's health endpoint
  maintenance start CHECK --for DURATION [--reason TEXT] | list | end CHECK
                            maintenance windows: the check runs and shows, and does not page
  heartbeats [ID]           each job's ping URL
  reload                    make the running exporter read its configuration again
  restarts reset APP        let the restart policy act again on an app it gave up on
  check-config [FILE]       validate a config file and exit

  hop3-health <command> --help   a command's own usage
  hop3-health --version          the version

Exit codes: 0 ok, 1 warn, 2 fail, 3 unknown (bad usage, bad config, internal error).
`;

class UsageError extends Error {
  constructor(
    message: string,
    readonly usage = USAGE,
  ) {
    super(message);
  }
}
/** Set by `status --check`: hop3-health answers as a Nagios plugin, errors included. */
let asPlugin = false;

async function main(argv: string[]): Promise<CommandOutput> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string", short: "c" },
        json: { type: "boolean" },
        quiet: { type: "boolean", short: "q" },
        "no-color": { type: "boolean" },
        url: { type: "string" },
        port: { type: "string" },
        path: { type: "string" },
        contains: { type: "string" },
        timeout: { type: "string" },
        "dry-run": { type: "boolean" },
        check: { type: "string" },
        for: { type: "string" },
        reason: { type: "string" },
        "web.config.file": { type: "string" },
        "web.listen-address": { type: "string" },
        perfdata: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw unknownOption(error, argv) ?? new UsageError(errorMessage(error));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) return { stdout: `hop3-health ${exporterVersion()}\n`, code: 0 };
  if (command === "help") return { stdout: (rest[0] !== undefined ? COMMANDS[rest[0]]?.usage : undefined) ?? USAGE, code: 0 };
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (values.help) return { stdout: spec?.usage ?? USAGE, code: 0 };
  if (!command) throw new UsageError("no command given");
  if (!spec) throw new UsageError(`unknown command "${command}"${didYouMean(command, Object.keys(COMMANDS))}`);
  for (const option of Object.keys(values)) {
    if (option !== "config" && !spec.options.includes(option)) throw new UsageError(`${command} takes no --${option}${didYouMean(option, spec.options)}`, spec.usage);
  }
  if (rest.length > spec.positionals) throw new UsageError(`${command}: unexpected argument "${rest[spec.positionals]}"`, spec.usage);

  switch (command) {
    case "status": {
      if (values.json && values.quiet) throw new UsageError("--json and --quiet exclude each other", spec.usage);
      if (values.perfdata && !values.quiet && values.check === undefined) throw new UsageError("--perfdata goes with --quiet or --check", spec.usage);
      if (values.perfdata && values.json) throw new UsageError("--perfdata and --json exclude each other", spec.usage);
      asPlugin = values.check !== undefined;
      const { status } = await import("./commands/status.js");
      return status({
        config: values.config,
        json: values.json,
        quiet: values.quiet,
        url: values.url,
        noColor: Boolean(values["no-color"]),
        ...(values.check !== undefined ? { check: values.check } : {}),
        perfdata: Boolean(values.perfdata),
      });
    }
    case "maintenance": {
      const [action, check] = rest;
      if (action !== "start" && action !== "end" && action !== "list") {
        throw new UsageError(`maintenance: ${action === undefined ? "start, list or end?" : `unknown action "${action}"${didYouMean(action, ["start", "list", "end"])}`}`, spec.usage);
      }
      if (action === "list" && check !== undefined) throw new UsageError(`maintenance list: unexpected argument "${check}"`, spec.usage);
      if (action !== "list" && check === undefined) throw new UsageError(`maintenance ${action}: which check? (disk-usage, app:NAME, ...)`, spec.usage);
      if (action !== "start" && (values.for !== undefined || values.reason !== undefined)) throw new UsageError(`maintenance ${action} takes no --for or --reason`, spec.usage);
      if (action === "start" && values.for === undefined) throw new UsageError("maintenance start: how long? --for 30m", spec.usage);
      const { maintenance } = await import("./commands/maintenance.js");
      return maintenance({ action, ...(check !== undefined ? { check } : {}), ...(values.for !== undefined ? { for: values.for } : {}), ...(values.reason !== undefined ? { reason: values.reason } : {}) }, { config: values.config });
    }
    case "check-config": {
      const { checkConfig } = await import("./commands/check-config.js");
      return checkConfig(rest[0], values.config);
    }
    case "probe": {
      const app = rest[0];
      if (!app) throw new UsageError("probe: which app? hop3-health probe APP", spec.usage);
      if (values.url !== undefined && values.port !== undefined) throw new UsageError("probe: give --url or --port, not both", spec.usage);
      const port = positiveNumber(values.port, "port", true);
      if (port !== undefined && port > 65535) throw new UsageError(`--port ${port}: expected a port number`, spec.usage);
      const timeoutSeconds = positiveNumber(values.timeout, "timeout", false);
      const { probe } = await import("./commands/probe.js");
      return probe({ app, url: values.url, port, path: values.path, contains: values.contains, timeoutSeconds }, { config: values.config, dryRun: Boolean(values["dry-run"]) });
    }
    case "reload": {
      const { reload } = await import("./commands/operator.js");
      return reload({ config: values.config });
    }
    case "restarts": {
      const [action, app] = rest;
      if (action !== "reset") throw new UsageError(`restarts: ${action === undefined ? "reset?" : `unknown action "${action}"${didYouMean(action, ["reset"])}`}`, spec.usage);
      if (app === undefined) throw new UsageError("restarts reset: which app?", spec.usage);
      const { resetRestarts } = await import("./commands/operator.js");
      return resetRestarts(app, { config: values.config });
    }
    case "heartbeats": {
      const { heartbeats } = await import("./commands/operator.js");
      return heartbeats(rest[0], { config: values.config });
    }
    default: {
      const { serveUntilSignalled } = await import("./exporter/serve.js");
      return serveUntilSignalled({ file: values.config, webConfigFile: values["web.config.file"], listenAddress: values["web.listen-address"] });
    }
  }
}

/** An option no command takes: said with the command's own options and usage, and a suggestion. */
function unknownOption(error: unknown, argv: string[]): UsageError | undefined {
  if ((error as { code?: string }).code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION") return undefined;
  const given = /'(-{1,2}[^']*)'/.exec(errorMessage(error))?.[1] ?? "";
  const name = given.replace(/^-+/, "").split("=")[0]!;
  const command = argv.find((arg) => !arg.startsWith("-") && COMMANDS[arg] !== undefined);
  const spec = command === undefined ? undefined : COMMANDS[command];
  const known = spec ? [...spec.options, "config", "help"] : ["config", "help", "version"];
  return new UsageError(`${command ?? "hop3-health"} takes no ${given}${didYouMean(name, known).replace(/did you mean (\S+)\?/, "did you mean --$1?")}`, spec?.usage ?? USAGE);
}

function positiveNumber(value: string | undefined, option: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${option} ${JSON.stringify(value)}: expected a ${integer ? "port number" : "number of seconds"}`, COMMANDS.probe!.usage);
  }
  return n;
}

function finish(stdout: string, stderr: string, code: number): void {
  // Whatever went wrong, a URL's password does not reach the terminal.
  // Exit once the output is written, even if a misbehaving plugin left a handle open.
  put(2, stderr ? maskUrlCredentials(stderr) : "", () => put(1, stdout, () => process.exit(code)));
}

/**
 * Writes to fd 1 or 2 with write(2) itself: process.stdout and process.stderr are streams whose
 * making loads Node's socket and TTY code, some 8 ms of every command's start (bench/startup.ts).
 * A non-blocking pipe that is full (EAGAIN) takes the rest through the stream; any other failure
 * (EPIPE: the reader is gone; EBADF: closed) ends the writing, and the exit code stays what it is.
 */
function put(fd: 1 | 2, text: string, then: () => void): void {
  let rest = Buffer.from(text);
  try {
    while (rest.length > 0) rest = rest.subarray(writeSync(fd, rest));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EAGAIN") {
      (fd === 1 ? process.stdout : process.stderr).write(rest, then);
      return;
    }
  }
  then();
}

main(process.argv.slice(2)).then(
  ({ stdout, code }) => finish(stdout, "", code),
  (error: unknown) => {
    if (error instanceof UsageError) finish("", `hop3-health: ${error.message}\n\n${error.usage}`, UNKNOWN);
    // As a Nagios plugin (status --check), what went wrong is its one line on stdout, which is all Nagios reads.
    else if (error instanceof InputError && asPlugin) finish(`UNKNOWN: ${maskUrlCredentials(error.message)}\n`, "", UNKNOWN);
    else if (error instanceof InputError) finish("", `hop3-health: ${error.message}\n`, UNKNOWN);
    else if (error instanceof ConfigError) finish("", `hop3-health: configuration error:\n${indent(error.message)}\n`, UNKNOWN);
    else finish("", `hop3-health: ${errorMessage(error)}\n`, UNKNOWN);
  },
);

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}
