// TLS certificates: by default where Hop3 writes them (HOP3-SERVER.md §6), else the configured
// paths and globs, and the certificates served at configured endpoints. `ssl` says whether every
// file could be read as a certificate; one `ssl:<domain>` check per certificate (the same one
// found in several places is one check) says whether it is self-signed and how many days it has
// left. For the app each file is Hop3's copy for (nginx/<app>.crt, certificates/<domain>.crt), the
// certificate nginx really serves for its name is fetched and compared with the file: a renewal
// nginx has not picked up is a warning.

import type { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import * as z from "#zod";
import { nonEmpty } from "../src/config/schema.js";
import type { CheckSettings, HealthCheck, HealthCheckResult, Measurement, Plugin, PluginContext, Severity } from "../src/health/model.js";
import { appDirectory, listApps } from "../src/hop3/apps.js";
import { fileProblem } from "../src/hop3/etc.js";
import { KiB, readBoundedFile } from "../src/hop3/files.js";
import { readAppListen } from "../src/hop3/liveenv.js";
import { worstSeverity } from "../src/health/model.js";
import { glob, hasWildcard } from "../src/lib/glob.js";
import { budgetMs } from "../src/lib/net.js";

const days = z.number({ error: "expected a number of days" }).check(z.minimum(0));
const hostPort = z.string().check(z.regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, { error: 'expected "host:port"' }));
const settings = z
  .strictObject({
    paths: z.optional(z.array(nonEmpty())),
    endpoints: z._default(z.array(hostPort), []),
    warn_days: z._default(days, 14),
    fail_days: z._default(days, 3),
    /** Where nginx serves the apps' TLS, to compare what it serves with the files ("" turns it off). */
    served_at: z._default(z.union([z.literal(""), hostPort]), "127.0.0.1:443"),
  })
  .check(z.refine((s) => s.fail_days < s.warn_days, { error: "fail_days must be below warn_days", path: ["fail_days"] }));
type SslSettings = z.infer<typeof settings> & CheckSettings;

const SELF_SIGNED = "self-signed (Let's Encrypt not configured)";
const DAY_MS = 86_400_000;

function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

/** The name a certificate is for: its first DNS subject alternative name, else its CN. */
function domainOf(cert: X509Certificate): string | undefined {
  return namesOf(cert)[0];
}

/** Every DNS name a certificate is for (its SANs, else its CN). */
function namesOf(cert: X509Certificate): string[] {
  const sans = (cert.subjectAltName ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4).toLowerCase());
  if (sans.length > 0) return sans;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

function covers(cert: X509Certificate, host: string): boolean {
  const name = host.toLowerCase();
  return namesOf(cert).some((n) => n === name || (n.startsWith("*.") && name.endsWith(n.slice(1)) && !name.slice(0, -n.length + 1).includes(".")));
}

/** Days left, rounded down; negative once expired. */
function daysLeft(cert: X509Certificate, now: number): number {
  return Math.floor((Date.parse(cert.validTo) - now) / DAY_MS);
}

/** Severity and message of one certificate, now. */
export function assessCertificate(cert: X509Certificate, warnDays: number, failDays: number, now = Date.now()): { severity: Severity; message: string } {
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  const date = (d: Date): string => d.toISOString().slice(0, 10);
  const parts: Array<{ severity: Severity; text: string }> = [];
  if (isSelfSigned(cert)) parts.push({ severity: "warn", text: SELF_SIGNED });
  const left = daysLeft(cert, now);
  if (notAfter.getTime() <= now) {
    const ago = Math.max(0, Math.floor((now - notAfter.getTime()) / DAY_MS));
    parts.push({ severity: "fail", text: `expired ${ago === 0 ? "today" : ago === 1 ? "1 day ago" : `${ago} days ago`} (${date(notAfter)})` });
  } else if (notBefore.getTime() > now) {
    parts.push({ severity: "fail", text: `not valid before ${date(notBefore)}` });
  } else {
    const severity: Severity = left <= failDays ? "fail" : left <= warnDays ? "warn" : "ok";
    parts.push({ severity, text: `expires in ${left === 1 ? "1 day" : `${left} days`} (${date(notAfter)})` });
  }
  const severity = worstSeverity(parts.map((p) => p.severity));
  // Only what makes it as bad as it is: an expired certificate is news, its being self-signed is not.
  return { severity, message: parts.filter((p) => p.severity === severity).map((p) => p.text).join("; ") };
}

interface Found {
  cert: X509Certificate;
  /** The file path, or "host:port" for a served certificate. */
  source: string;
  /** Every file it was found in (one certificate, several places). */
  files?: string[];
}

/** Where Hop3 writes certificates: its store, nginx's copies, certbot's live files, the control plane's, and the old default. */
function defaultPatterns(ctx: PluginContext): string[] {
  return [
    path.join(ctx.hop3Root, "certificates/*.crt"),
    path.join(ctx.hop3Root, "nginx/*.crt"),
    path.join(ctx.hop3Root, "certbot/config/live/*/fullchain.pem"),
    path.join(ctx.hop3EtcDir, "ssl/hop3.crt"),
    path.join(ctx.hop3Root, "nginx/ssl/*.crt"),
  ];
}

/** The served certificate of host:port (the leaf), without trusting or judging it; `servername` for SNI. */
async function fetchServedCertificate(endpoint: string, timeoutMs: number, signal: AbortSignal, servername?: string): Promise<X509Certificate> {
  // TLS is loaded by the first comparison with a served certificate, not by every command.
  const { default: tls } = await import("node:tls");
  const colon = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(endpoint.slice(colon + 1));
  return new Promise((resolve, reject) => {
    const sni = servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
    const socket = tls.connect({ host, port, servername: sni, rejectUnauthorized: false, timeout: timeoutMs });
    const finish = (error: Error | null, cert?: X509Certificate): void => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(cert!);
    };
    const onAbort = (): void => finish(new Error(`aborted connecting to ${endpoint}`));
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      const peer = socket.getPeerX509Certificate();
      finish(peer ? null : new Error(`${endpoint} served no certificate`), peer);
    });
    socket.once("timeout", () => finish(new Error(`timed out connecting to ${endpoint}`)));
    socket.once("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "ECONNREFUSED" ? "connection refused" : error.code === "ENOTFOUND" ? "host not found" : error.message;
      finish(new Error(`${why} (${endpoint})`));
    });
  });
}

/** Reads every certificate file; what cannot be read as a certificate is a problem. The same certificate twice is one. */
async function readCertificateFiles(ctx: PluginContext, config: SslSettings): Promise<{ found: Found[]; problems: string[]; scanned: string[] }> {
  const explicit = config.paths !== undefined;
  const patterns = config.paths ?? defaultPatterns(ctx);
  const byFingerprint = new Map<string, Found>();
  const problems: string[] = [];
  const scanned: string[] = [];
  for (const pattern of patterns) {
    const resolved = path.resolve(ctx.hop3Root, pattern);
    const files = hasWildcard(resolved) ? await glob(resolved) : explicit || existsSync(resolved) ? [resolved] : [];
    if (files.length === 0 && explicit) problems.push(`no certificate matches ${resolved}`);
    for (const file of files) {
      scanned.push(file);
      let pem: string;
      try {
        pem = await readBoundedFile(file, { maxBytes: 1024 * KiB });
      } catch (error) {
        const problem = fileProblem(error);
        problems.push(problem.kind === "missing" ? `missing: ${file}` : problem.message);
        continue;
      }
      let cert: X509Certificate;
      try {
        // A chain file holds the leaf first; that is the one served for the domain. Crypto is
        // loaded by the first certificate found, not by every server that has none.
        const { X509Certificate } = await import("node:crypto");
        cert = new X509Certificate(pem);
      } catch {
        problems.push(`not a certificate: ${file}`);
        continue;
      }
      const known = byFingerprint.get(cert.fingerprint256);
      if (known) known.files!.push(file);
      else byFingerprint.set(cert.fingerprint256, { cert, source: file, files: [file] });
    }
  }
  return { found: [...byFingerprint.values()], problems, scanned };
}

/** The first name of each app's HOST_NAME, by app: the names nginx serves TLS for. */
async function appHostNames(ctx: PluginContext): Promise<Map<string, string>> {
  const apps = await listApps(ctx.hop3Root);
  const names = await Promise.all(apps.map(async (app) => [app, (await readAppListen(appDirectory(ctx.hop3Root, app))).hostName] as const));
  return new Map(names.filter((entry): entry is readonly [string, string] => entry[1] !== undefined && entry[1] !== "localhost"));
}

/**
 * The names whose served certificate is compared with a certificate's files: only those of the
 * app each file is Hop3's copy for (`nginx/<app>.crt`), or the domain a store file is named after
 * (`certificates/<domain>.crt`). Another app's HOST_NAME under a shared wildcard says nothing
 * about this file: a tenant cannot make it fail with a certificate of its own.
 */
function ownedHosts(hop3Root: string, files: readonly string[], hostsByApp: ReadonlyMap<string, string>): string[] {
  const owned = new Set<string>();
  const nginxDir = path.join(hop3Root, "nginx");
  const storeDir = path.join(hop3Root, "certificates");
  for (const file of files) {
    const dir = path.dirname(path.resolve(file));
    const base = path.basename(file, ".crt");
    if (dir === nginxDir && hostsByApp.has(base)) owned.add(hostsByApp.get(base)!);
    if (dir === storeDir && [...hostsByApp.values()].includes(base)) owned.add(base);
  }
  return [...owned];
}

/** What nginx serves for each of the names, beside the file: nothing to say when it is the same certificate. */
async function compareServed(
  file: X509Certificate,
  hosts: readonly string[],
  config: SslSettings,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ severity: Severity; message: string; served: Record<string, unknown>; measurements: Measurement[] } | undefined> {
  let worst: { severity: Severity; message: string } | undefined;
  const served: Record<string, unknown> = {};
  const measurements: Measurement[] = [];
  for (const host of hosts) {
    let cert: X509Certificate;
    try {
      cert = await fetchServedCertificate(config.served_at, timeoutMs, signal, host);
    } catch (error) {
      served[host] = { error: error instanceof Error ? error.message : String(error) };
      continue;
    }
    served[host] = { fingerprint_sha256: cert.fingerprint256, not_after: new Date(cert.validTo).toISOString() };
    if (cert.fingerprint256 === file.fingerprint256) continue;
    const own = assessCertificate(cert, config.warn_days, config.fail_days);
    const renewed = Date.parse(file.validTo) > Date.parse(cert.validTo);
    const left = daysLeft(cert, Date.now());
    const when = left < 0 ? own.message : `expires in ${left === 1 ? "1 day" : `${left} days`}`;
    const message = renewed
      ? `renewed on disk but nginx still serves the old one for ${host} (${when}): reload nginx`
      : `nginx serves another certificate for ${host} than this file (${when})`;
    const severity = worstSeverity(["warn", own.severity]);
    if (!worst || severity === "fail") worst = { severity, message };
    measurements.push({ name: "hop3_certificate_not_after_timestamp_seconds", value: Date.parse(cert.validTo) / 1000, labels: { domain: host, source: `served ${config.served_at}` } });
  }
  return worst ? { ...worst, served, measurements } : Object.keys(served).length > 0 ? { severity: "ok", message: "", served, measurements } : undefined;
}

function certificateCheck(
  ctx: PluginContext,
  id: string,
  domain: string,
  found: Omit<Found, "cert">,
  getCert: (signal: AbortSignal) => Promise<X509Certificate>,
  config: SslSettings,
  hosts: readonly string[] = [],
): HealthCheck {
  const name = `SSL ${domain}`;
  const { source } = found;
  return {
    id,
    name,
    section: "Certificates",
    isConfigured: () => true,
    async check(signal): Promise<HealthCheckResult> {
      let cert: X509Certificate;
      try {
        cert = await getCert(signal);
      } catch (error) {
        // A served certificate that cannot be fetched: say why, with where.
        return { name, passed: false, message: error instanceof Error ? error.message : String(error), details: { domain, source } };
      }
      const own = assessCertificate(cert, config.warn_days, config.fail_days);
      const servedHosts = hosts.filter((h) => covers(cert, h));
      const served = servedHosts.length > 0 && config.served_at !== "" ? await compareServed(cert, servedHosts, config, budgetMs(ctx, id).ms, signal) : undefined;
      const severity = worstSeverity([own.severity, served?.severity ?? "ok"]);
      const message = [own.severity === severity ? own.message : "", served && served.severity === severity ? served.message : ""].filter((m) => m !== "").join("; ");
      const selfSigned = isSelfSigned(cert);
      const labels = { domain, source };
      return {
        name,
        passed: severity === "ok",
        severity,
        message,
        details: {
          domain,
          source,
          ...(found.files ? { files: found.files } : {}),
          subject: cert.subject,
          issuer: cert.issuer,
          subject_alt_names: cert.subjectAltName ?? null,
          not_before: new Date(cert.validFrom).toISOString(),
          not_after: new Date(cert.validTo).toISOString(),
          days_left: daysLeft(cert, Date.now()),
          self_signed: selfSigned,
          fingerprint_sha256: cert.fingerprint256,
          ...(served ? { served: served.served } : {}),
        },
        measurements: [
          { name: "hop3_certificate_not_after_timestamp_seconds", value: Date.parse(cert.validTo) / 1000, labels },
          { name: "hop3_certificate_self_signed", value: selfSigned ? 1 : 0, labels },
          ...(served?.measurements ?? []),
        ],
      };
    },
  };
}

const plugin: Plugin = {
  name: "ssl",
  settings: { ssl: settings, "ssl:*": z.strictObject({}) },
  async getHealthChecks(ctx) {
    const config = ctx.configFor<SslSettings>("ssl");
    if (!config.enabled) return [];
    const { found, problems, scanned } = await readCertificateFiles(ctx, config);
    const explicit = config.paths !== undefined;
    const checks: HealthCheck[] = [];
    const used = new Set<string>();
    const uniqueId = (domain: string, source: string): string => {
      let id = `ssl:${domain}`;
      if (used.has(id)) id = `ssl:${domain}@${path.basename(source)}`;
      used.add(id);
      return id;
    };

    const hostsByApp = found.length > 0 && config.served_at !== "" ? await appHostNames(ctx) : new Map<string, string>();
    for (const entry of found) {
      const domain = domainOf(entry.cert) ?? path.basename(entry.source);
      const hosts = ownedHosts(ctx.hop3Root, entry.files ?? [entry.source], hostsByApp);
      checks.push(certificateCheck(ctx, uniqueId(domain, entry.source), domain, entry, () => Promise.resolve(entry.cert), config, hosts));
    }
    for (const endpoint of config.endpoints) {
      const host = endpoint.slice(0, endpoint.lastIndexOf(":")).replace(/^\[|\]$/g, "");
      const id = uniqueId(host, endpoint);
      checks.push(certificateCheck(ctx, id, host, { source: endpoint }, (signal) => ctx.withServer(endpoint, () => fetchServedCertificate(endpoint, budgetMs(ctx, id).ms, signal), signal), config));
    }

    // The `ssl` check itself: were the certificate files all readable? Shown when there is anything to say.
    if (explicit || scanned.length > 0 || config.endpoints.length > 0) {
      checks.unshift({
        id: "ssl",
        name: "SSL",
        section: "Certificates",
        isConfigured: () => true,
        check: () =>
          Promise.resolve(
            problems.length > 0
              ? { name: "SSL", passed: false, message: problems.join("; "), details: { files: scanned, problems } }
              : {
                  name: "SSL",
                  passed: true,
                  message: `${found.length + config.endpoints.length} certificate${found.length + config.endpoints.length === 1 ? "" : "s"} found`,
                  details: { files: scanned, endpoints: config.endpoints },
                },
          ),
      });
    }
    return checks;
  },
};

export default plugin;
