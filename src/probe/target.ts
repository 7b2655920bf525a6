// What to probe for an app, and where: its manifest's health endpoint, and its address from the
// command line or API, else `[apps.<name>]` in the config, else its LIVE_ENV (or legacy ENV), as
// HOP3-SERVER.md says Hop3 itself finds it. Requests carry `Host:` the first name of HOST_NAME.

import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { appDirectory, AppNameError } from "../hop3/apps.js";
import { liveEnvPath, readAppListen } from "../hop3/liveenv.js";
import { ManifestError, readManifest, type Manifest } from "../hop3/manifest.js";
import { appStartTimeout } from "../hop3/server-toml.js";
import { InputError } from "../lib/errors.js";
import type { AppSettings } from "../health/model.js";
import { DEFAULT_ACCEPT, describeAccept, requestPath, type Expectation, type HttpTarget, type ProbeTarget } from "./probe.js";

export class ProbeInputError extends InputError {
  override name = "ProbeInputError";
}

/** An app that is neither under HOP3_ROOT/apps nor in `[apps]`: the probe API answers 404. */
export class UnknownAppError extends ProbeInputError {
  override name = "UnknownAppError";
}

export interface ProbeRequest {
  app: string;
  url?: string | undefined;
  port?: number | undefined;
  path?: string | undefined;
  contains?: string | undefined;
  /** The window, in seconds. */
  timeoutSeconds?: number | undefined;
}

export interface AppsContext {
  hop3Root: string;
  appsConfig: Record<string, AppSettings>;
  /** Hosts besides this one that may be probed. */
  allowedHosts?: readonly string[];
}

/** Seconds per request when the manifest sets no `[healthcheck] timeout`. */
export const DEFAULT_REQUEST_TIMEOUT = 5;

export function checkedAppDirectory(hop3Root: string, app: string): string {
  try {
    return appDirectory(hop3Root, app);
  } catch (error) {
    if (error instanceof AppNameError) throw new ProbeInputError(error.message);
    throw error;
  }
}

/** The app's manifest, a bad one reported as bad input. */
export async function manifestOf(appDir: string): Promise<Manifest | undefined> {
  try {
    return await readManifest(appDir);
  } catch (error) {
    if (error instanceof ManifestError) throw new ProbeInputError(error.message);
    throw error;
  }
}

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
/** 127.0.0.0/8, written as four decimal octets. */
const LOOPBACK_V4 = new RegExp(`^127(?:\\.${OCTET}){3}$`);

/** Whether an address is this host's: loopback, or one of its interfaces. */
export function isThisHost(address: string): boolean {
  const plain = address.toLowerCase().replace(/^::ffff:/, "");
  if (plain === "localhost" || plain === "::1" || LOOPBACK_V4.test(plain)) return true;
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address.toLowerCase() === plain));
}

/** Where an app is reached: an address with a Host header, a static site (port 0), or, with a URL, also a path of its own. */
export type AppAddress = { kind: "http"; target: Omit<HttpTarget, "path">; urlPath?: string; source: string } | { kind: "static"; source: string };

function fromUrl(value: string, what: string): AppAddress & { kind: "http" } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ProbeInputError(`${what}: not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ProbeInputError(`${what} must be an http or https URL`);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  const urlPath = url.pathname + url.search;
  return {
    kind: "http",
    target: { protocol: url.protocol, host, port, hostHeader: url.host },
    ...(urlPath !== "/" ? { urlPath } : {}),
    source: what,
  };
}

/** Where the app listens, or why that is not known. */
export async function addressOf(app: string, appDir: string, ctx: AppsContext, given: { url?: string | undefined; port?: number | undefined } = {}): Promise<AppAddress> {
  const configured = ctx.appsConfig[app];
  const checked = (address: AppAddress & { kind: "http" }): AppAddress => {
    const host = address.target.host;
    if (!isThisHost(host) && !(ctx.allowedHosts ?? []).some((h) => h.toLowerCase() === host.toLowerCase())) {
      throw new ProbeInputError(`${host} is not this host: probes go to this host's addresses unless [probes] allowed_hosts lists it (${address.source})`);
    }
    return address;
  };
  if (given.url !== undefined) return checked(fromUrl(given.url, "--url"));
  if (configured?.url !== undefined && given.port === undefined) return checked(fromUrl(configured.url, `[apps.${app}] url`));
  const listen = await readAppListen(appDir);
  // BIND_ADDRESS can come from the app's own [env]: requests stay on this host whatever it says.
  if (!isThisHost(listen.bindAddress)) {
    throw new ProbeInputError(`BIND_ADDRESS ${JSON.stringify(listen.bindAddress.slice(0, 100))} in ${listen.source ?? liveEnvPath(appDir)} is not an address of this host`);
  }
  const host = listen.hostName ?? "localhost";
  const at = (port: number, source: string): AppAddress => ({ kind: "http", target: { protocol: "http:", host: listen.bindAddress, port, hostHeader: host }, source });
  if (given.port !== undefined) return at(given.port, "--port");
  if (configured?.port !== undefined) return at(configured.port, `[apps.${app}] port`);
  if (listen.port === 0) return { kind: "static", source: listen.source ?? liveEnvPath(appDir) };
  if (listen.port !== undefined) return at(listen.port, listen.source ?? liveEnvPath(appDir));
  throw new ProbeInputError(
    `no port known for '${app}': no PORT in ${liveEnvPath(appDir)} or ${path.join(appDir, "ENV")}, and no --port, --url or [apps.${app}] port`,
  );
}

/** What counts as healthy for the app: 200–399 and `[apps.<name>] accept_status` when it declares an endpoint, else any answer. */
export function expectationFor(app: string, ctx: AppsContext, declared: boolean, contains: string | undefined): Expectation {
  if (!declared) return { accept: null };
  return { accept: [...DEFAULT_ACCEPT, ...(ctx.appsConfig[app]?.accept_status ?? [])], contains };
}

/** "(healthy: 200–399; [apps.isso] accept_status widens it)": what was expected, for a failure message. */
export function expectationText(app: string, ctx: AppsContext, expect: Expectation): string {
  if (expect.accept === null) return "(no health endpoint declared: any HTTP answer counts)";
  const widened = (ctx.appsConfig[app]?.accept_status ?? []).length > 0;
  return `(healthy: ${describeAccept(expect.accept)}${widened ? `, with [apps.${app}] accept_status` : `; [apps.${app}] accept_status widens it`}${expect.contains !== undefined ? `, body containing "${expect.contains}"` : ""})`;
}

export async function resolveProbeTarget(request: ProbeRequest, ctx: AppsContext): Promise<ProbeTarget> {
  const appDir = checkedAppDirectory(ctx.hop3Root, request.app);
  // Only apps this server has: names (and metric labels) stay bounded whatever a client sends.
  if (!existsSync(appDir) && ctx.appsConfig[request.app] === undefined) {
    throw new UnknownAppError(`no app '${request.app}' in ${path.join(ctx.hop3Root, "apps")} (nor in [apps] of the config)`);
  }
  const manifest = await manifestOf(appDir);
  const address = await addressOf(request.app, appDir, ctx, request);
  const window = request.timeoutSeconds ?? manifest?.startTimeout ?? (await appStartTimeout(ctx.hop3Root));
  const requestTimeout = manifest?.timeout !== undefined && manifest.timeout > 0 ? manifest.timeout : DEFAULT_REQUEST_TIMEOUT;
  if (address.kind === "static") return { app: request.app, http: null, expect: { accept: null }, requestTimeout, window };

  // A URL with a path of its own is the whole address; otherwise the path comes from the manifest, else "/".
  const declaredPath = request.path ?? address.urlPath ?? manifest?.path;
  const contains = request.contains ?? manifest?.contains;
  const declared = declaredPath !== undefined || contains !== undefined;
  return {
    app: request.app,
    http: { ...address.target, path: requestPath(declaredPath ?? "/") },
    expect: expectationFor(request.app, ctx, declared, contains),
    requestTimeout,
    window,
  };
}
