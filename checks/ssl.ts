// TLS certificates: the files nginx serves (HOP3_ROOT/nginx/ssl/*.crt by default, or the
// configured paths and globs) and the certificates served at configured endpoints.
// `ssl` says whether every file could be read as a certificate; one `ssl:<domain>` check per
// certificate says whether it is self-signed and how many days it has left.

import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import tls from "node:tls";
import { z } from "zod";
import type { CheckSettings, HealthCheck, HealthCheckResult, Plugin, PluginContext, Severity } from "../src/health/model.js";
import { worstSeverity } from "../src/health/model.js";
import { glob, hasWildcard } from "../src/lib/glob.js";
import { budgetMs } from "../src/lib/net.js";

const days = z.number({ error: "expected a number of days" }).min(0);
const settings = z
  .strictObject({
    paths: z.array(z.string().min(1)).optional(),
    endpoints: z
      .array(z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/, { error: 'expected "host:port"' }))
      .default([]),
    warn_days: days.default(14),
    fail_days: days.default(3),
  })
  .refine((s) => s.fail_days < s.warn_days, { error: "fail_days must be below warn_days", path: ["fail_days"] });
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
  const san = cert.subjectAltName
    ?.split(",")
    .map((s) => s.trim())
    .find((s) => s.startsWith("DNS:"));
  if (san) return san.slice(4);
  return /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
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
}

/** The served certificate of host:port (the leaf), without trusting or judging it. */
function fetchServedCertificate(endpoint: string, timeoutMs: number, signal: AbortSignal): Promise<X509Certificate> {
  const colon = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, colon).replace(/^\[|\]$/g, "");
  const port = Number(endpoint.slice(colon + 1));
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false, timeout: timeoutMs });
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

/** Reads every configured certificate file; what cannot be read as a certificate is a problem. */
async function readCertificateFiles(ctx: PluginContext, config: SslSettings): Promise<{ found: Found[]; problems: string[]; scanned: string[] }> {
  const explicit = config.paths !== undefined;
  const patterns = config.paths ?? [path.join(ctx.hop3Root, "nginx/ssl/*.crt")];
  const found: Found[] = [];
  const problems: string[] = [];
  const scanned: string[] = [];
  for (const pattern of patterns) {
    const resolved = path.resolve(ctx.hop3Root, pattern);
    const files = hasWildcard(resolved) ? await glob(resolved) : [resolved];
    if (files.length === 0 && explicit) problems.push(`no certificate matches ${resolved}`);
    for (const file of files) {
      scanned.push(file);
      let pem: string;
      try {
        pem = await readFile(file, "utf8");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        problems.push(code === "ENOENT" ? `missing: ${file}` : `cannot read ${file}: ${code ?? String(error)}`);
        continue;
      }
      try {
        // A chain file holds the leaf first; that is the one served for the domain.
        found.push({ cert: new X509Certificate(pem), source: file });
      } catch {
        problems.push(`not a certificate: ${file}`);
      }
    }
  }
  return { found, problems, scanned };
}

function certificateCheck(id: string, domain: string, source: string, getCert: (signal: AbortSignal) => Promise<X509Certificate>, config: SslSettings): HealthCheck {
  const name = `SSL ${domain}`;
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
      const { severity, message } = assessCertificate(cert, config.warn_days, config.fail_days);
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
          subject: cert.subject,
          issuer: cert.issuer,
          subject_alt_names: cert.subjectAltName ?? null,
          not_before: new Date(cert.validFrom).toISOString(),
          not_after: new Date(cert.validTo).toISOString(),
          days_left: daysLeft(cert, Date.now()),
          self_signed: selfSigned,
          fingerprint_sha256: cert.fingerprint256,
        },
        measurements: [
          { name: "hop3_certificate_not_after_timestamp_seconds", value: Date.parse(cert.validTo) / 1000, labels },
          { name: "hop3_certificate_self_signed", value: selfSigned ? 1 : 0, labels },
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

    for (const { cert, source } of found) {
      const domain = domainOf(cert) ?? path.basename(source);
      checks.push(certificateCheck(uniqueId(domain, source), domain, source, () => Promise.resolve(cert), config));
    }
    for (const endpoint of config.endpoints) {
      const host = endpoint.slice(0, endpoint.lastIndexOf(":")).replace(/^\[|\]$/g, "");
      const id = uniqueId(host, endpoint);
      checks.push(certificateCheck(id, host, endpoint, (signal) => fetchServedCertificate(endpoint, budgetMs(ctx, id).ms, signal), config));
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
