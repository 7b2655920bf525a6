// How the exporter serves: TLS (with client certificates), response headers and basic auth, from
// the TOML [web] table or from exporter-toolkit's web configuration file (`serve
// --web.config.file`), the YAML that node_exporter and blackbox_exporter read, so that one file
// serves every exporter on a host. Certificates are read again when their files change.

import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import type https from "node:https";
import path from "node:path";
import tls from "node:tls";
import * as z from "#zod";
import { formatIssues, knownKeysAt } from "../config/load.js";
import { bcryptUsers, nonEmpty, type Config } from "../config/schema.js";
import { ConfigError, errorMessage } from "../lib/errors.js";
import type { Logger } from "../lib/logger.js";

/** exporter-toolkit's client_auth_type values, as Go's crypto/tls names them. */
const CLIENT_AUTH = ["NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"] as const;
type ClientAuth = (typeof CLIENT_AUTH)[number];
const VERSIONS = { TLS10: "TLSv1", TLS11: "TLSv1.1", TLS12: "TLSv1.2", TLS13: "TLSv1.3" } as const;
/** The response headers exporter-toolkit lets a web configuration set. */
const HEADERS = ["Strict-Transport-Security", "X-Frame-Options", "X-Content-Type-Options", "X-XSS-Protection", "Content-Security-Policy"];

const tlsVersion = z.enum(Object.keys(VERSIONS) as [keyof typeof VERSIONS]);
const webConfigSchema = z.strictObject({
  tls_server_config: z.optional(
    z
      .strictObject({
        cert_file: nonEmpty(),
        key_file: nonEmpty(),
        client_auth_type: z._default(z.enum(CLIENT_AUTH), "NoClientCert"),
        client_ca_file: z.optional(nonEmpty()),
        min_version: z.optional(tlsVersion),
        max_version: z.optional(tlsVersion),
      })
      .check(
        z.refine((t) => !["VerifyClientCertIfGiven", "RequireAndVerifyClientCert"].includes(t.client_auth_type) || t.client_ca_file !== undefined, {
          error: "client_ca_file is needed to verify client certificates",
          path: ["client_ca_file"],
        }),
      ),
  ),
  http_server_config: z.optional(
    z.strictObject({
      headers: z._default(
        z
          .record(z.string(), z.string())
          .check(
            z.refine((h) => Object.keys(h).every((name) => HEADERS.includes(name)), { error: `only these headers may be set: ${HEADERS.join(", ")}` }),
            // A line break in a value would end the header there (and Node refuses to send it: every answer would fail).
            // eslint-disable-next-line no-control-regex -- control characters are what is refused
            z.refine((h) => Object.values(h).every((value) => !/[\0-\x08\x0a-\x1f\x7f]/.test(value)), { error: "a header value may not hold line breaks or other control characters" }),
          ),
        {},
      ),
    }),
  ),
  basic_auth_users: z.optional(z.nullable(bcryptUsers())),
});

export interface WebSettings {
  tls: null | {
    certFile: string;
    keyFile: string;
    clientAuth: ClientAuth;
    clientCaFile?: string;
    minVersion?: tls.SecureVersion;
    maxVersion?: tls.SecureVersion;
    /** Where these came from, for messages: "web config file /etc/x.yml" or "config file F". */
    origin: string;
    /** The keys that name the certificate, the key and the client CA there. */
    keys: { cert: string; key: string; ca: string };
  };
  headers: Record<string, string>;
  users: Record<string, string>;
}

/** The [web] table of the TOML configuration. */
export function webSettingsOf(config: Config, originOf: (keyPath: readonly PropertyKey[]) => string): WebSettings {
  const { tls_cert_file: certFile, tls_key_file: keyFile, basic_auth_users: users } = config.web;
  return {
    tls:
      certFile && keyFile
        ? { certFile, keyFile, clientAuth: "NoClientCert", origin: originOf(["web", "tls_cert_file"]), keys: { cert: "web.tls_cert_file", key: "web.tls_key_file", ca: "" } }
        : null,
    headers: {},
    users,
  };
}

/** exporter-toolkit's web configuration file; relative paths in it are taken from its folder. */
export async function readWebConfigFile(file: string): Promise<WebSettings> {
  const where = `web config file ${file}`;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError(`--web.config.file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
  }
  // YAML is read only here, by the few who use this file.
  const { parse, YAMLParseError } = await import("yaml");
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (error) {
    throw new ConfigError(`${where}: not valid YAML: ${error instanceof YAMLParseError ? error.message.split("\n")[0] : errorMessage(error)}`);
  }
  const parsed = webConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, raw, () => where, [], (at) => knownKeysAt(webConfigSchema, at)));
  const dir = path.dirname(path.resolve(file));
  const { tls_server_config: t, http_server_config: http, basic_auth_users: users } = parsed.data;
  return {
    tls: t
      ? {
          certFile: path.resolve(dir, t.cert_file),
          keyFile: path.resolve(dir, t.key_file),
          clientAuth: t.client_auth_type,
          ...(t.client_ca_file ? { clientCaFile: path.resolve(dir, t.client_ca_file) } : {}),
          ...(t.min_version ? { minVersion: VERSIONS[t.min_version] } : {}),
          ...(t.max_version ? { maxVersion: VERSIONS[t.max_version] } : {}),
          origin: where,
          keys: { cert: "tls_server_config.cert_file", key: "tls_server_config.key_file", ca: "tls_server_config.client_ca_file" },
        }
      : null,
    headers: http?.headers ?? {},
    users: users ?? {},
  };
}

type Tls = NonNullable<WebSettings["tls"]>;

/** Certificate, key and client CA, read now and checked: a bad one is refused with where it is set. */
function secureContextOptions(t: Tls): tls.SecureContextOptions {
  const read = (file: string, key: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`${t.origin}: ${key}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`);
    }
  };
  const options: tls.SecureContextOptions = {
    cert: read(t.certFile, t.keys.cert),
    key: read(t.keyFile, t.keys.key),
    ...(t.clientCaFile ? { ca: read(t.clientCaFile, t.keys.ca) } : {}),
    ...(t.minVersion ? { minVersion: t.minVersion } : {}),
    ...(t.maxVersion ? { maxVersion: t.maxVersion } : {}),
  };
  try {
    tls.createSecureContext(options);
  } catch (error) {
    throw new ConfigError(`${t.origin}: ${t.keys.cert} / ${t.keys.key}: not a usable certificate and key (${errorMessage(error)})`);
  }
  return options;
}

/** The options of https.createServer for these settings, or null for plain HTTP. */
export function serverTlsOptions(settings: WebSettings): https.ServerOptions | null {
  const t = settings.tls;
  if (!t) return null;
  return {
    ...secureContextOptions(t),
    // Asked for; which ones are refused, and how, is up to checkClientCertificate.
    requestCert: t.clientAuth !== "NoClientCert",
    rejectUnauthorized: t.clientAuth === "RequireAndVerifyClientCert",
  };
}

/** After the handshake: the client certificate rules Node's two options cannot say. False: close it. */
export function clientCertificateAccepted(settings: WebSettings, socket: tls.TLSSocket): boolean {
  const auth = settings.tls?.clientAuth;
  if (auth !== "RequireAnyClientCert" && auth !== "VerifyClientCertIfGiven") return true;
  const given = Object.keys(socket.getPeerCertificate()).length > 0;
  return auth === "RequireAnyClientCert" ? given : !given || socket.authorized;
}

/**
 * Reads the certificate, key and client CA again when one of them changes (checked every few
 * seconds, which sees a renewal by certbot's symlinks too): the server takes the new ones for new
 * connections. A renewal that does not load is logged, and the old ones stay.
 */
export function reloadTlsOnChange(server: tls.Server, settings: WebSettings, logger: Logger, intervalMs = 2000): () => void {
  const t = settings.tls;
  if (!t) return () => undefined;
  const files = [t.certFile, t.keyFile, ...(t.clientCaFile ? [t.clientCaFile] : [])];
  let pending: NodeJS.Timeout | undefined;
  const onChange = (): void => {
    // A renewal writes several files: they are read once they have all been written.
    clearTimeout(pending);
    pending = setTimeout(() => {
      try {
        server.setSecureContext(secureContextOptions(t));
        logger.info({ files }, "TLS certificate or key changed on disk: new connections get the new one");
      } catch (error) {
        logger.error(`TLS files changed but cannot be used, the previous ones stay: ${errorMessage(error)}`);
      }
    }, 200);
    pending.unref();
  };
  for (const file of files) watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  return () => {
    clearTimeout(pending);
    for (const file of files) unwatchFile(file, onChange);
  };
}
