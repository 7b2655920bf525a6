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
import { fromJson, toJson, type JsonReport } from "./report/json.js";
import { renderQuiet, renderText, wantsColour } from "./report/text.js";
import { worstSeverity, type Severity } from "./health/model.js";
import { maskUrlCredentials } from "./health/redact.js";

const UNKNOWN = 3;

const USAGE = `Usage: hop3-health [--config FILE] <command>

Commands:
  serve                     run the exporter: checks on a schedule, /metrics, /status
  status [--json] [--quiet] [--no-color] [--url URL]
                            run every check once (or read a running exporter) and print the report
  probe APP [--url URL | --port N] [--path P] [--contains S] [--timeout SECONDS]
                            the deploy-time startup probe of an app's health endpoint
  check-config [FILE]       validate a config file and exit

Exit codes: 0 ok, 1 warn, 2 fail, 3 unknown (bad usage, bad config, internal error).
`;

class UsageError extends Error {}
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
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === "help") return { stdout: USAGE, code: 0 };
  if (!command) throw new UsageError("no command given");

  const allowed: Record<string, string[]> = {
    status: ["json", "quiet", "no-color", "url"],
    "check-config": [],
    probe: ["url", "port", "path", "contains", "timeout"],
    serve: [],
  };
  const allowedOptions = allowed[command];
  if (!allowedOptions) throw new UsageError(`unknown command "${command}"`);
  for (const option of Object.keys(values)) {
    if (option !== "config" && !allowedOptions.includes(option)) throw new UsageError(`${command} takes no --${option}`);
  }
  const maxPositionals = command === "check-config" || command === "probe" ? 1 : 0;
  if (rest.length > maxPositionals) throw new UsageError(`${command}: unexpected argument "${rest[maxPositionals]}"`);

  switch (command) {
    case "status":
      return status(values);
    case "check-config":
      return checkConfig(rest[0] ?? values.config);
    case "probe":
      return probe(rest[0], values);
    case "serve":
      return serveUntilSignalled({ file: values.config });
    default:
      throw new UsageError(`"${command}" is not available in this version`);
  }
}

async function status(values: { config?: string; json?: boolean; quiet?: boolean; "no-color"?: boolean; url?: string }): Promise<Output> {
  if (values.json && values.quiet) throw new UsageError("--json and --quiet exclude each other");
  let report: Report;
  if (values.url) {
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

/** A running exporter's report, from its `/status`. */
async function fetchReport(url: string): Promise<Report> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  if (target.pathname === "/" || target.pathname === "") target.pathname = "/status";
  // Basic auth given in the URL (http://user:password@host:9483) goes in a header, not the URL.
  const headers: Record<string, string> = { accept: "application/json" };
  if (target.username || target.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")}`;
    target.username = "";
    target.password = "";
  }
  let response: Response;
  try {
    response = await fetch(target, { signal: AbortSignal.timeout(30_000), headers });
  } catch (error) {
    throw new Error(`could not reach ${target.origin}: ${errorMessage((error as { cause?: unknown }).cause ?? error)}`);
  }
  if (!response.ok) throw new Error(`${target.href} answered HTTP ${response.status}`);
  return fromJson((await response.json()) as JsonReport);
}

function positiveNumber(value: string | undefined, option: string, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`--${option} ${JSON.stringify(value)}: expected a ${integer ? "port number" : "number of seconds"}`);
  return n;
}

async function probe(
  app: string | undefined,
  values: { config?: string; url?: string; port?: string; path?: string; contains?: string; timeout?: string },
): Promise<Output> {
  if (!app) throw new UsageError("probe: which app? hop3-health probe APP");
  if (values.url !== undefined && values.port !== undefined) throw new UsageError("probe: give --url or --port, not both");
  const port = positiveNumber(values.port, "port", true);
  if (port !== undefined && port > 65535) throw new UsageError(`--port ${port}: expected a port number`);
  const engine = await createEngine({ file: values.config, logLevel: "silent" });
  let outcome;
  try {
    outcome = await probeCommand(engine, {
      app,
      url: values.url,
      port,
      path: values.path,
      contains: values.contains,
      timeoutSeconds: positiveNumber(values.timeout, "timeout", false),
    });
  } catch (error) {
    if (error instanceof ProbeInputError || error instanceof ProbeRefused) throw new InputError(error.message);
    throw error;
  }
  const { verdict } = outcome;
  if (outcome.note) process.stderr.write(`hop3-health: ${outcome.note}\n`);
  return { stdout: `${verdict.message}\n`, code: verdict.result === "success" ? 0 : 2 };
}

async function checkConfig(file: string | undefined): Promise<Output> {
  const engine = await createEngine({ file, logLevel: "silent" });
  const checks = await engine.discover();
  const unmatched = engine.settings.unmatchedTables(checks.map((c) => c.id));
  const lines = [`${engine.loaded.file ?? "no config file (built-in defaults and environment)"}: valid`];
  lines.push(`  plugins: ${engine.plugins.map((p) => p.plugin.name).join(", ") || "none"}`);
  const problems: Severity[] = [];
  for (const failure of engine.pluginFailures) {
    lines.push(`  ✗ plugin ${failure.name}: ${engine.redact(failure.message)}`);
    problems.push("fail");
  }
  for (const id of unmatched) {
    lines.push(`  ⚠ [checks.${id}] matches no check of this server`);
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
    if (error instanceof UsageError) finish("", `hop3-health: ${error.message}\n\n${USAGE}`, UNKNOWN);
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
