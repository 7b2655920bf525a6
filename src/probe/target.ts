// What to probe for an app: its manifest's health endpoint, and where the app listens (the
// command line or API, else `[apps.<name>]` in the config, else the PORT= line of its ENV file).

import { existsSync } from "node:fs";
import path from "node:path";
import { manifestPath, ManifestError, portFromEnvFile, readHealthEndpoint, ENDPOINT_DEFAULTS, type HealthEndpoint } from "./manifest.js";
import type { ProbeTarget } from "./probe.js";

export class ProbeInputError extends Error {
  override name = "ProbeInputError";
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
  appsConfig: Record<string, { port?: number | undefined; url?: string | undefined }>;
}

const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function appDirectory(hop3Root: string, app: string): string {
  if (!APP_NAME.test(app) || app.includes("..")) throw new ProbeInputError(`"${app}" is not an app name`);
  return path.join(hop3Root, "apps", app);
}

/** The app's declared endpoint, or undefined when it has no manifest or declares none. */
export async function endpointOf(appDir: string): Promise<HealthEndpoint | undefined> {
  const file = manifestPath(appDir);
  return file ? readHealthEndpoint(file) : undefined;
}

/** Where the app listens, or why that is not known. */
export async function baseUrlOf(app: string, appDir: string, ctx: AppsContext, given: { url?: string | undefined; port?: number | undefined }): Promise<URL> {
  const configured = ctx.appsConfig[app];
  if (given.url !== undefined) return parseUrl(given.url, "url");
  if (given.port !== undefined) return new URL(`http://127.0.0.1:${given.port}/`);
  if (configured?.url !== undefined) return parseUrl(configured.url, `[apps.${app}] url`);
  if (configured?.port !== undefined) return new URL(`http://127.0.0.1:${configured.port}/`);
  const port = await portFromEnvFile(appDir);
  if (port !== undefined) return new URL(`http://127.0.0.1:${port}/`);
  throw new ProbeInputError(`no port known for '${app}': no PORT= line in ${path.join(appDir, "ENV")}, and no --port, --url or [apps.${app}] port`);
}

function parseUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ProbeInputError(`${what} ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ProbeInputError(`${what} must be an http or https URL`);
  return url;
}

export async function resolveProbeTarget(request: ProbeRequest, ctx: AppsContext): Promise<ProbeTarget> {
  const appDir = appDirectory(ctx.hop3Root, request.app);
  const explicit = request.url !== undefined || request.port !== undefined || ctx.appsConfig[request.app] !== undefined;
  if (!explicit && !existsSync(appDir)) throw new ProbeInputError(`no app '${request.app}' in ${path.join(ctx.hop3Root, "apps")}`);
  let endpoint: HealthEndpoint | undefined;
  try {
    endpoint = await endpointOf(appDir);
  } catch (error) {
    if (error instanceof ManifestError) throw new ProbeInputError(error.message);
    throw error;
  }
  const base = await baseUrlOf(request.app, appDir, ctx, request);
  // A URL with a path of its own is the whole address; otherwise the path comes from the manifest.
  const urlHasPath = request.url !== undefined && base.pathname !== "/";
  const pathname = request.path ?? (urlHasPath ? undefined : endpoint?.path);
  if (pathname === undefined && !urlHasPath) {
    throw new ProbeInputError(`'${request.app}' declares no health endpoint ([healthcheck] path in its hop3.toml); give --path`);
  }
  const url = new URL(base.href);
  if (pathname !== undefined) {
    const [p, query] = pathname.split("?", 2) as [string, string | undefined];
    url.pathname = p.startsWith("/") ? p : `/${p}`;
    url.search = query ? `?${query}` : "";
  }
  const contains = request.contains ?? endpoint?.contains;
  return {
    app: request.app,
    url,
    ...(contains !== undefined ? { contains } : {}),
    ...(endpoint?.expectedStatus !== undefined ? { expectedStatus: endpoint.expectedStatus } : {}),
    requestTimeout: endpoint?.timeout ?? ENDPOINT_DEFAULTS.timeout,
    window: request.timeoutSeconds ?? endpoint?.startTimeout ?? ENDPOINT_DEFAULTS.startTimeout,
  };
}
