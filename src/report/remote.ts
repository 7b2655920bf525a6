// `status --url`: the report of a running exporter, from its /status, with errors a person can
// act on: a URL without its scheme, the metrics endpoint instead of the exporter, TLS spoken to a
// plain-HTTP port (and the reverse), nothing listening, credentials needed, no cycle finished yet.

import { InputError } from "../lib/errors.js";
import { fromJson, type JsonReport } from "./json.js";
import type { Report } from "./report.js";

/** A problem with what the user gave or what answered: said as it is, without a stack or the usage text. */
export class RemoteError extends InputError {
  override name = "RemoteError";
}

function causeOf(error: unknown): { code?: string; message: string } {
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && (cause as { cause?: unknown } | null)?.cause !== undefined; depth++) cause = (cause as { cause: unknown }).cause;
  const { code, message } = (cause ?? {}) as { code?: unknown; message?: unknown };
  return { ...(typeof code === "string" ? { code } : {}), message: typeof message === "string" ? message : String(cause) };
}

/** The /status URL for what the user gave, or a hint when it cannot be one. */
export function statusUrl(given: string): URL {
  const bare = !/^[a-z][a-z0-9+.-]*:\/\//i.test(given);
  if (bare) {
    const guess = `http://${given}`;
    throw new RemoteError(`--url ${JSON.stringify(given)} has no scheme: did you mean ${URL.canParse(guess) ? new URL(guess).origin : guess}?`);
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new RemoteError(`--url ${JSON.stringify(given)} is not a URL, such as http://127.0.0.1:9483`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new RemoteError(`--url must be an http:// or https:// URL, not ${url.protocol}//`);
  if (url.pathname === "/metrics" || url.pathname.startsWith("/api/") || url.pathname.startsWith("/-/")) {
    const base = new URL(url.href);
    base.username = "";
    base.password = "";
    throw new RemoteError(`--url points at ${url.pathname}: give the exporter's own address, such as ${base.origin}`);
  }
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/status";
  return url;
}

export async function fetchReport(given: string): Promise<Report> {
  const target = statusUrl(given);
  // Basic auth given in the URL (http://user:password@host:9483) goes in a header, not the URL.
  const headers: Record<string, string> = { accept: "application/json" };
  if (target.username || target.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString("base64")}`;
    target.username = "";
    target.password = "";
  }
  const other = target.protocol === "https:" ? "http" : "https";
  const otherUrl = `${other}://${target.host}`;
  let response: Response;
  try {
    response = await fetch(target, { signal: AbortSignal.timeout(30_000), headers });
  } catch (error) {
    const { code, message } = causeOf(error);
    if (code === "ECONNREFUSED") throw new RemoteError(`nothing answers at ${target.origin} (connection refused): is \`hop3-health serve\` running there?`);
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") throw new RemoteError(`host not found: ${target.hostname}`);
    if (code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number|packet length too long/i.test(message)) {
      throw new RemoteError(`${target.origin} does not speak TLS: did you mean ${otherUrl}?`);
    }
    if (/certificate|self.signed|unable to verify/i.test(message)) {
      // A self-signed exporter certificate (the usual first setup): how to trust it, not only that it is not.
      const hint = /self.signed|SELF_SIGNED|unable to verify|UNABLE_TO_GET_ISSUER/i.test(`${code ?? ""} ${message}`)
        ? `; if it is the exporter's own self-signed certificate, trust it here with NODE_EXTRA_CA_CERTS=/path/to/its-cert.pem hop3-health status --url ${target.origin}`
        : "";
      throw new RemoteError(`${target.origin}: its TLS certificate is not trusted here (${message})${hint}`);
    }
    if (code === "UND_ERR_SOCKET" || code === "ECONNRESET" || /other side closed|socket hang up/i.test(message)) {
      throw new RemoteError(`${target.origin} closed the connection${target.protocol === "http:" ? `: if it serves HTTPS, did you mean ${otherUrl}?` : ""}`);
    }
    if (/timeout|aborted/i.test(message)) throw new RemoteError(`${target.origin} did not answer within 30s`);
    throw new RemoteError(`could not reach ${target.origin}: ${message}`);
  }
  if (response.status === 401) {
    // Wrong credentials and none at all are different mistakes.
    if (headers.authorization !== undefined) throw new RemoteError(`credentials refused: ${target.origin} did not accept that user and password (HTTP 401)`);
    throw new RemoteError(`credentials needed: ${target.origin} wants basic auth; give them in the URL, before the host: user:password@${target.host}`);
  }
  if (response.status === 503) throw new RemoteError(`the exporter at ${target.origin} has not finished its first check cycle yet: try again in a few seconds`);
  if (!response.ok) throw new RemoteError(`${target.href} answered HTTP ${response.status}`);
  let body: JsonReport;
  try {
    body = (await response.json()) as JsonReport;
  } catch {
    throw new RemoteError(`${target.href} did not answer with a hop3-health report: is it hop3-health?`);
  }
  if (typeof body !== "object" || !Array.isArray((body as Partial<JsonReport>).sections)) {
    throw new RemoteError(`${target.href} did not answer with a hop3-health report: is it hop3-health?`);
  }
  return fromJson(body);
}
