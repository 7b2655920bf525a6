// HOP3_ETC_DIR (default /etc/hop3): where Hop3 keeps `secret-key`, `redis-pass`, `s3-env` and the
// control plane's certificate `ssl/hop3.crt` (HOP3-SERVER.md §5, §6). The secret files are 0640
// root:hop3: a reader outside group hop3 is told so, not given a false failure.

import path from "node:path";
import { FileReadError, KiB, readBoundedFile } from "./files.js";
import { PERMISSION_HINT } from "./server-toml.js";

export type FileProblem = { kind: "missing" | "denied" | "unreadable"; message: string };

/** The first line of a one-line secret file, stripped (as Hop3 reads it); a value or why there is none. */
export async function readSecretFile(file: string): Promise<{ value?: string; problem?: FileProblem }> {
  try {
    const value = (await readBoundedFile(file, { maxBytes: 64 * KiB })).split("\n", 1)[0]!.trim();
    return value === "" ? {} : { value };
  } catch (error) {
    return { problem: fileProblem(error) };
  }
}

export function fileProblem(error: unknown): FileProblem {
  if (!(error instanceof FileReadError)) throw error;
  if (error.missing) return { kind: "missing", message: `${error.file} not found` };
  if (error.denied) return { kind: "denied", message: `${error.message} — ${PERMISSION_HINT}` };
  return { kind: "unreadable", message: error.message };
}

export function etcFile(etcDir: string, name: "secret-key" | "redis-pass" | "s3-env" | "ssl/hop3.crt"): string {
  return path.join(etcDir, name);
}

export interface S3Credentials {
  endpoint: string;
  accessKey: string;
  secretKey: string;
}

/**
 * `s3-env`'s `MC_HOST_hop3=http://<user>:<password>@<host>:<port>` (KEY=VALUE lines, no
 * unquoting, `#` and blank lines skipped): the endpoint and the credentials in it.
 */
export function parseS3Env(text: string): S3Credentials | undefined {
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    if (eq <= 0 || trimmed.slice(0, eq).trim() !== "MC_HOST_hop3") continue;
    let url: URL;
    try {
      url = new URL(trimmed.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    const accessKey = decodeURIComponent(url.username);
    const secretKey = decodeURIComponent(url.password);
    return { endpoint: `${url.protocol}//${url.host}`, accessKey, secretKey };
  }
  return undefined;
}

export async function readS3Env(etcDir: string): Promise<{ credentials?: S3Credentials; file: string; problem?: FileProblem }> {
  const file = etcFile(etcDir, "s3-env");
  try {
    const credentials = parseS3Env(await readBoundedFile(file, { maxBytes: 64 * KiB }));
    return credentials ? { credentials, file } : { file, problem: { kind: "unreadable", message: `${file}: no MC_HOST_hop3=http://user:password@host:port line` } };
  } catch (error) {
    return { file, problem: fileProblem(error) };
  }
}

/** Whether an EnvironmentFile (KEY=VALUE lines) sets HOP3_SECRET_KEY to something; the value is not kept. */
export async function environmentHasKey(file: string): Promise<boolean> {
  try {
    const text = await readBoundedFile(file, { maxBytes: 64 * KiB });
    return /^\s*(?:export\s+)?HOP3_SECRET_KEY\s*=\s*["']?[^\s"']/m.test(text);
  } catch (error) {
    if (error instanceof FileReadError) return false;
    throw error;
  }
}

