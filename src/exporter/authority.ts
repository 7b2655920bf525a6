// Who may write (reload, maintenance windows, deploy probes that count, heartbeats), and from
// where a request may come at all.
//
// Reads stay open. Writes need authority: a request over the operator socket in the state
// directory (its file mode is the authentication: the exporter's user and group), a request that
// passed basic auth, or one with a verified client certificate. Loopback is not authority: every
// tenant's app runs on this host. A browser cannot be made to write for someone else: a write
// from another site (Origin, Sec-Fetch-Site) or with a form's content type is refused. And a
// browser's request for a Host this exporter does not answer to (DNS rebinding) is 421.

import os from "node:os";
import net from "node:net";
import { TLSSocket } from "node:tls";
import type { Request, RequestHandler, Response } from "express";
import { sendJson } from "./http.js";

/** Sockets accepted by the operator socket's server. */
const operatorSockets = new WeakSet<net.Socket>();

export function markOperatorSocket(socket: net.Socket): void {
  operatorSockets.add(socket);
}

export function viaOperatorSocket(req: Request): boolean {
  return operatorSockets.has(req.socket);
}

/** Requests whose credentials basic auth verified. */
const authenticated = new WeakSet<Request>();

export function markAuthenticated(req: Request): void {
  authenticated.add(req);
}

/** Whether the request may write: over the operator socket, past basic auth, or with a verified client certificate. */
export function mayWrite(req: Request): boolean {
  if (viaOperatorSocket(req) || authenticated.has(req)) return true;
  if (!(req.socket instanceof TLSSocket)) return false;
  return req.socket.authorized && Object.keys(req.socket.getPeerCertificate()).length > 0;
}

/** Answers 403 and returns false when the request may not write `what`. */
export function requireWrite(req: Request, res: Response, what: string): boolean {
  if (mayWrite(req)) return true;
  sendJson(res, 403, {
    error: `${what} need authority: on this host, the hop3-health command (it speaks over the operator socket in the state directory); over HTTP, basic auth or a client certificate ([web] in the config, or --web.config.file)`,
  });
  return false;
}

/** Content types a page on another site can send without asking first (a form): never a write. */
const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/** Refuses a write a browser makes for another site: a cross-site Origin or Sec-Fetch-Site, or a form's content type. */
export function sameOriginWrites(): RequestHandler {
  return (req, res, next) => {
    if (req.method === "GET" || req.method === "HEAD" || viaOperatorSocket(req)) {
      next();
      return;
    }
    const site = req.get("sec-fetch-site");
    const origin = req.get("origin");
    const host = req.get("host");
    let crossSite = site !== undefined && site !== "same-origin" && site !== "none";
    if (!crossSite && origin !== undefined) {
      try {
        crossSite = origin === "null" || new URL(origin).host !== host;
      } catch {
        crossSite = true;
      }
    }
    if (crossSite) {
      sendJson(res, 403, { error: `a write from another site (Origin ${origin ?? "-"}, Sec-Fetch-Site ${site ?? "-"}) is refused` });
      return;
    }
    const type = (req.get("content-type") ?? "").split(";", 1)[0]!.trim().toLowerCase();
    if (FORM_TYPES.includes(type)) {
      sendJson(res, 415, { error: `a write takes a JSON body (Content-Type: application/json), not ${type}` });
      return;
    }
    next();
  };
}

/** "host:port", "[v6]:port" or "host" → the host, lower case. */
function hostOf(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(1, value.indexOf("]"));
  const colon = value.lastIndexOf(":");
  return colon === -1 ? value : value.slice(0, colon);
}

/** Whether a browser sent the request: only a browser can be turned against this host by DNS rebinding. */
function fromBrowser(req: Request): boolean {
  return req.get("sec-fetch-site") !== undefined || req.get("sec-fetch-mode") !== undefined || req.get("origin") !== undefined || (req.get("user-agent") ?? "").includes("Mozilla/");
}

/**
 * The names this exporter answers to a browser on: any IP address (a rebinding attack needs a
 * name), localhost, this machine's hostname (its short name, its FQDN, names under it), the listen
 * address's host, and `[web] hosts` (`*.example.com` for any name under example.com). A browser
 * asking for another name is 421. Prometheus, curl and other programs are not a rebinding vector,
 * and a scrape by a name nobody listed here must not fail.
 */
export function hostGuard(extra: readonly string[], listenHost: string | undefined): RequestHandler {
  const hostname = os.hostname().toLowerCase();
  const short = hostname.split(".", 1)[0]!;
  const exact = new Set(["localhost", hostname, ...(listenHost ? [listenHost.toLowerCase()] : []), ...extra.filter((h) => !h.startsWith("*.")).map((h) => h.toLowerCase())]);
  const suffixes = [`.${hostname}`, ".localhost", ...extra.filter((h) => h.startsWith("*.")).map((h) => h.slice(1).toLowerCase())];
  return (req, res, next) => {
    const header = req.get("host");
    // HTTP/1.0 without Host, or the operator socket: nothing to rebind.
    if (header === undefined || viaOperatorSocket(req) || !fromBrowser(req)) {
      next();
      return;
    }
    const host = hostOf(header).replace(/\.$/, "");
    if (net.isIP(host) !== 0 || exact.has(host) || suffixes.some((s) => host.endsWith(s)) || host.startsWith(`${short}.`) || hostname.startsWith(`${host}.`)) {
      next();
      return;
    }
    sendJson(res, 421, { error: `this exporter does not answer to the host ${JSON.stringify(host)} (add it to [web] hosts)` });
  };
}
