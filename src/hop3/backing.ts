// The backing services a Hop3 server uses, found the way Hop3's addons find them (HOP3-SERVER.md
// §5), for when hop3-health's config says nothing of them: PostgreSQL and MySQL from their
// admin URL or host/port/superuser keys (process environment first, then hop3-server.toml),
// Redis at 127.0.0.1:6379 with HOP3_ETC_DIR/redis-pass, S3 from HOP3_ETC_DIR/s3-env. What is
// found says where it came from (file and key), never the value; its secrets are handed over
// to be masked everywhere.

import { stat } from "node:fs/promises";
import path from "node:path";
import { etcFile, readS3Env, readSecretFile } from "./etc.js";
import { readServerToml, type ServerToml } from "./server-toml.js";

export type BackingId = "postgresql" | "mysql" | "redis" | "s3";

export interface DiscoveredService {
  check: BackingId;
  /** The check's settings, as its `[checks.<id>]` table would hold them. */
  settings: Record<string, string>;
  /** Where they came from: "hop3-server.toml (POSTGRES_HOST, POSTGRES_SUPERUSER_PASSWORD)". */
  from: string;
  /** Where the password came from, for an authentication failure's message. */
  passwordFrom?: string;
  /** Why the check cannot be made as Hop3 would (a file hop3-health may not read). */
  problem?: string;
  /** Values to mask in all output. */
  secrets: string[];
}

interface Found {
  value: string;
  from: string;
}

function lookup(env: NodeJS.ProcessEnv, toml: ServerToml, key: string): Found | undefined {
  const fromEnv = env[key];
  if (fromEnv !== undefined && fromEnv.trim() !== "") return { value: fromEnv.trim(), from: `environment variable ${key}` };
  const value = toml.values.get(key);
  if (typeof value === "string" && value.trim() !== "") return { value: value.trim(), from: `${toml.file} ${key}` };
  if (typeof value === "number" && Number.isFinite(value)) return { value: String(value), from: `${toml.file} ${key}` };
  return undefined;
}

function urlPassword(url: string): string | undefined {
  try {
    const password = new URL(url).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

/** Hop3's `*_ADMIN_URL`, then `*_URL`, when it has one of the schemes; normalised to the scheme hop3-health takes. */
function adminUrl(env: NodeJS.ProcessEnv, toml: ServerToml, prefix: string, schemes: RegExp, scheme: string): Found | undefined {
  for (const key of [`${prefix}_ADMIN_URL`, `${prefix}_URL`]) {
    const found = lookup(env, toml, key);
    if (found && schemes.test(found.value) && URL.canParse(found.value)) return { value: found.value.replace(schemes, `${scheme}://`), from: found.from };
  }
  return undefined;
}

/** A URL from host, port, superuser and password keys, with Hop3's defaults. */
function fromKeys(
  env: NodeJS.ProcessEnv,
  toml: ServerToml,
  id: "postgresql" | "mysql",
  prefix: string,
  defaults: { port: number; user: string; database: string },
): DiscoveredService | undefined {
  const host = lookup(env, toml, `${prefix}_HOST`);
  const port = lookup(env, toml, `${prefix}_PORT`);
  const user = lookup(env, toml, `${prefix}_SUPERUSER`);
  const password = lookup(env, toml, `${prefix}_SUPERUSER_PASSWORD`);
  const present = [host, port, user, password].filter((f): f is Found => f !== undefined);
  if (present.length === 0) return undefined;
  const hostname = host?.value ?? "localhost";
  const url = new URL(`${id}://${hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname}`);
  url.port = /^\d{1,5}$/.test(port?.value ?? "") ? port!.value : String(defaults.port);
  url.username = encodeURIComponent(user?.value ?? defaults.user);
  if (password) url.password = encodeURIComponent(password.value);
  url.pathname = `/${defaults.database}`;
  return {
    check: id,
    settings: { url: url.href },
    from: describeOrigins(present),
    ...(password ? { passwordFrom: password.from } : {}),
    secrets: password ? [password.value] : [],
  };
}

/** "/home/hop3/hop3-server.toml (POSTGRES_HOST, POSTGRES_SUPERUSER_PASSWORD)", grouping keys by file. */
function describeOrigins(found: readonly Found[]): string {
  const byPlace = new Map<string, string[]>();
  for (const f of found) {
    const at = f.from.lastIndexOf(" ");
    const place = f.from.startsWith("environment variable") ? "environment" : f.from.slice(0, at);
    const key = f.from.slice(at + 1);
    byPlace.set(place, [...(byPlace.get(place) ?? []), key]);
  }
  return [...byPlace].map(([place, keys]) => `${place} (${keys.join(", ")})`).join("; ");
}

function postgres(env: NodeJS.ProcessEnv, toml: ServerToml): DiscoveredService | undefined {
  const admin = adminUrl(env, toml, "POSTGRES", /^postgres(?:ql)?:\/\//, "postgresql");
  if (admin) {
    const password = urlPassword(admin.value);
    return { check: "postgresql", settings: { url: admin.value }, from: admin.from, ...(password ? { passwordFrom: admin.from } : {}), secrets: password ? [password] : [] };
  }
  return fromKeys(env, toml, "postgresql", "POSTGRES", { port: 5432, user: "postgres", database: "postgres" });
}

function mysql(env: NodeJS.ProcessEnv, toml: ServerToml): DiscoveredService | undefined {
  const admin = adminUrl(env, toml, "MYSQL", /^mysql(?:\+pymysql|\+mysqlconnector)?:\/\//, "mysql");
  if (admin) {
    const password = urlPassword(admin.value);
    return { check: "mysql", settings: { url: admin.value }, from: admin.from, ...(password ? { passwordFrom: admin.from } : {}), secrets: password ? [password] : [] };
  }
  return fromKeys(env, toml, "mysql", "MYSQL", { port: 3306, user: "root", database: "" });
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/** Redis is Hop3's when it keeps addons in it or set it a password; hard-coded 127.0.0.1:6379, as in Hop3. */
async function redis(hop3Root: string, etcDir: string): Promise<DiscoveredService | undefined> {
  const passFile = etcFile(etcDir, "redis-pass");
  const pass = await readSecretFile(passFile);
  const addons = path.join(hop3Root, "addons", "redis");
  const usesPassword = pass.value !== undefined || pass.problem?.kind === "denied";
  if (!usesPassword && !(await isDirectory(addons))) return undefined;
  const url = pass.value !== undefined ? `redis://:${encodeURIComponent(pass.value)}@127.0.0.1:6379` : "redis://127.0.0.1:6379";
  return {
    check: "redis",
    settings: { url },
    from: usesPassword ? `Hop3's Redis at 127.0.0.1:6379, password from ${passFile}` : `Hop3's Redis at 127.0.0.1:6379 (${addons} exists; no ${passFile})`,
    ...(pass.value !== undefined ? { passwordFrom: passFile } : {}),
    ...(pass.problem?.kind === "denied" ? { problem: pass.problem.message } : {}),
    secrets: pass.value !== undefined ? [pass.value] : [],
  };
}

async function s3(etcDir: string): Promise<DiscoveredService | undefined> {
  const { credentials, file, problem } = await readS3Env(etcDir);
  if (problem?.kind === "missing") return undefined;
  if (!credentials) {
    return problem ? { check: "s3", settings: { endpoint: "http://127.0.0.1:9000" }, from: file, problem: problem.message, secrets: [] } : undefined;
  }
  return {
    check: "s3",
    settings: { endpoint: credentials.endpoint, access_key: credentials.accessKey, secret_key: credentials.secretKey },
    from: `${file} (MC_HOST_hop3)`,
    passwordFrom: `${file} MC_HOST_hop3`,
    secrets: credentials.secretKey !== "" ? [credentials.secretKey] : [],
  };
}

/** Every backing service this Hop3 server's own files configure. */
export async function discoverBackingServices(hop3Root: string, etcDir: string, env: NodeJS.ProcessEnv): Promise<DiscoveredService[]> {
  const toml = await readServerToml(hop3Root);
  const found = [postgres(env, toml), mysql(env, toml), await redis(hop3Root, etcDir), await s3(etcDir)];
  return found.filter((f): f is DiscoveredService => f !== undefined);
}
