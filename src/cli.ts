#!/usr/bin/env node
// hop3-health [--config FILE] <command>: thin commands over the engine and the renderers.

import { parseArgs } from "node:util";
import { ConfigError } from "./config/load.js";
import { serveUntilSignalled } from "./exporter/serve.js";
import { probeCommand, ProbeRefused } from "./probe/command.js";
import { ProbeInputError } from "./probe/target.js";
import { createEngine } from "./engine/engine.js";
import { errorMessage } from "./engine/runner.js";
import { buildReport, exitCodeFor, type Report } from "./report/report.js";
import { toJson } from "./report/json.js";
import { fetchReport, RemoteError } from "./report/remote.js";
import { renderQuiet, renderText, wantsColour } from "./report/text.js";
import { worstSeverity, type Severity } from "./health/model.js";
import { maskUrlCredentials } from "./health/redact.js";
import { didYouMean } from "./lib/suggest.js";
import { exporterVersion } from "./lib/version.js";

const UNKNOWN = 3;

/** Each command's usage: `hop3-health <command> --help`. */
const COMMANDS: Record<string, { usage: string; options: string[]; positionals: number }> = {
  serve: {
    usage: `Usage: hop3-health [--config FILE] serve

Runs the exporter: every check on a schedule, and over HTTP the status page (/), /metrics,
/status, /-/healthy, /-/ready, /api/v1/events and POST /api/v1/probes. Stops on SIGTERM or SIGINT.
`,
    options: [],
    positionals: 0,
  },
  status: {
    usage: `Usage: hop3-health [--config FILE] status [--json | --quiet] [--no-color] [--url URL]

Runs every check once here and prints the report, or with --url reads a running exporter's
(http://host:9483, or http://user:password@host:9483 behind basic auth).
  --json       the report as one JSON object
  --quiet      one line: OK, DEGRADED: ..., or FAILED: ...
  --no-color   no colours, even on a terminal
Exit codes: 0 ok, 1 warn, 2 fail, 3 unknown (bad usage, bad config, internal error).
`,
    options: ["json", "quiet", "no-color", "url"],
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
  serve                     run the exporter: checks on a schedule, /metrics, /status
  status [--json] [--quiet] [--no-color] [--url URL]
                            run every check once (or read a running exporter) and print the report
  probe APP [--url URL | --port N] [--path P] [--contains S] [--timeout SECONDS] [--dry-run]
                            the deploy-time startup probe of an app's health endpoint
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
/** Bad input that is not about the command line's shape: said without the usage text. */
class InputError extends Error {}

interface Output {
  stdout: string;
  code: number;
}

async function main(argv: string[]): Promise<Output> {
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
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
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
    case "status":
      return status(values);
    case "check-config":
      return checkConfig(rest[0], values.config);
    case "probe":
      return probe(rest[0], values);
    default:
      return serveUntilSignalled({ file: values.config });
  }
}

async function status(values: { config?: string; json?: boolean; quiet?: boolean; "no-color"?: boolean; url?: string }): Promise<Output> {
  if (values.json && values.quiet) throw new UsageError("--json and --quiet exclude each other", COMMANDS.status!.usage);
  let report: Report;
  if (values.url !== undefined) {
    report = await fetchReport(values.url);
  } else {
    const engine = await createEngine({ file: values.config, logLevel: "warn" });
    const [cycle, identity] = await Promise.all([engine.runCycle(), engine.identity()]);
    report = buildReport(identity, cycle);
  }
  const code = exitCodeFor(report.overall);
  if (values.json) return { stdout: `${JSON.stringify(toJson(report), null, 2)}\n`, code };
  if (values.quiet) return { stdout: renderQuiet(report), code };
  return { stdout: renderText(report, { colour: wantsColour(process.stdout, process.env, Boolean(values["no-color"])) }), code };
}

function positiveNumber(value: string | undefined, option: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${option} ${JSON.stringify(value)}: expected a ${integer ? "port number" : "number of seconds"}`, COMMANDS.probe!.usage);
  }
  return n;
}

async function probe(
  app: string | undefined,
  values: { config?: string; url?: string; port?: string; path?: string; contains?: string; timeout?: string; "dry-run"?: boolean },
): Promise<Output> {
  const usage = COMMANDS.probe!.usage;
  if (!app) throw new UsageError("probe: which app? hop3-health probe APP", usage);
  if (values.url !== undefined && values.port !== undefined) throw new UsageError("probe: give --url or --port, not both", usage);
  const port = positiveNumber(values.port, "port", true);
  if (port !== undefined && port > 65535) throw new UsageError(`--port ${port}: expected a port number`, usage);
  const engine = await createEngine({ file: values.config, logLevel: "silent" });
  let outcome;
  try {
    outcome = await probeCommand(
      engine,
      { app, url: values.url, port, path: values.path, contains: values.contains, timeoutSeconds: positiveNumber(values.timeout, "timeout", false) },
      { dryRun: Boolean(values["dry-run"]) },
    );
  } catch (error) {
    if (error instanceof ProbeInputError || error instanceof ProbeRefused) throw new InputError(error.message);
    throw error;
  }
  const { verdict } = outcome;
  if (outcome.note) process.stderr.write(`hop3-health: ${outcome.note}\n`);
  return { stdout: `${verdict.message}\n`, code: verdict.result === "success" ? 0 : 2 };
}

async function checkConfig(argument: string | undefined, option: string | undefined): Promise<Output> {
  const engine = await createEngine({ file: argument ?? option, ...(argument !== undefined ? { fileGivenAs: "the check-config argument" } : {}), logLevel: "silent" });
  const checks = await engine.discover();
  const ids = checks.map((c) => c.id);
  const unmatched = engine.settings.unmatchedTables(ids);
  const lines = [`${engine.loaded.file ?? "no config file (built-in defaults and environment)"}: valid`];
  lines.push(`  plugins: ${engine.plugins.map((p) => p.plugin.name).join(", ") || "none"}`);
  const problems: Severity[] = [];
  for (const failure of engine.pluginFailures) {
    lines.push(`  ✗ plugin ${failure.name}: ${engine.redact(failure.message)}`);
    problems.push("fail");
  }
  for (const id of unmatched) {
    lines.push(`  ⚠ [checks.${id}] matches no check of this server${didYouMean(id, ids)}`);
    problems.push("warn");
  }
  return { stdout: `${lines.join("\n")}\n`, code: exitCodeFor(worstSeverity(problems)) };
}

function finish(stdout: string, stderr: string, code: number): void {
  // Whatever went wrong, a URL's password does not reach the terminal.
  if (stderr) process.stderr.write(maskUrlCredentials(stderr));
  // Exit once the output is written, even if a misbehaving plugin left a handle open.
  process.stdout.write(stdout, () => process.exit(code));
}

main(process.argv.slice(2)).then(
  ({ stdout, code }) => finish(stdout, "", code),
  (error: unknown) => {
    if (error instanceof UsageError) finish("", `hop3-health: ${error.message}\n\n${error.usage}`, UNKNOWN);
    else if (error instanceof InputError || error instanceof RemoteError) finish("", `hop3-health: ${error.message}\n`, UNKNOWN);
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
