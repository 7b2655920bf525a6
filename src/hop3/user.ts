// The Unix user Hop3 runs as (HOP3_USER in hop3-server.toml, default `hop3`), and who this
// process is: a directory hop3-health cannot write to is only a problem if Hop3 cannot either.

import os from "node:os";
import { runCommand } from "../lib/limit.js";
import { KiB, readBoundedFile } from "./files.js";
import { readServerToml, stringValue } from "./server-toml.js";

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
}

function parsePasswd(text: string, name: string): UnixUser | undefined {
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name && fields.length >= 4) return { name, uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  return undefined;
}

async function getent(name: string): Promise<string> {
  const { stdout, failed } = await runCommand("getent", ["passwd", name], { timeoutMs: 5000 });
  return failed ? "" : stdout;
}

/** The user, from /etc/passwd, else from the name service (getent); undefined when it does not exist. */
export async function lookupUser(name: string): Promise<UnixUser | undefined> {
  try {
    const found = parsePasswd(await readBoundedFile("/etc/passwd", { maxBytes: 4096 * KiB }), name);
    if (found) return found;
  } catch {
    // No readable /etc/passwd: ask the name service.
  }
  return parsePasswd(await getent(name), name);
}

/** HOP3_USER from hop3-server.toml, else Hop3's default. */
export async function hop3UserName(hop3Root: string): Promise<string> {
  return stringValue(await readServerToml(hop3Root), "HOP3_USER") ?? "hop3";
}

let me: { name: string; uid: number } | undefined;

/** Who hop3-health runs as (looked up once: a process's user does not change). */
export function currentUser(): { name: string; uid: number } {
  if (me) return me;
  const uid = process.getuid?.() ?? -1;
  try {
    me = { name: os.userInfo().username, uid };
  } catch {
    me = { name: `uid ${uid}`, uid };
  }
  return me;
}
