// What nginx serves for an app: Hop3 writes one file per app, HOP3_ROOT/nginx/<app>.conf
// (HOP3-SERVER.md §4), with its `listen` addresses (`$NGINX_IPV4_ADDRESS:80`, `…:443 ssl`) and
// `server_name` (its NGINX_SERVER_NAME). Read as untrusted input: bounded, within HOP3_ROOT/nginx,
// and only the two directives are taken.

import path from "node:path";
import { FileReadError, KiB, readBoundedFile } from "./files.js";

export interface NginxListen {
  /** Where a request is sent: every-interface addresses are reached on loopback. */
  host: string;
  port: number;
  tls: boolean;
}

export interface NginxSite {
  file: string;
  serverNames: string[];
  listens: NginxListen[];
  /** An upstream on a unix socket or a proxy to the app: nginx passes requests on; none, it serves files. */
  passes: boolean;
}

export function nginxConfPath(hop3Root: string, app: string): string {
  return path.join(hop3Root, "nginx", `${app}.conf`);
}

function listenOf(args: string[]): NginxListen | undefined {
  const [where, ...flags] = args;
  if (where === undefined || where.startsWith("unix:")) return undefined;
  const tls = flags.includes("ssl");
  let host = "127.0.0.1";
  let portText = where;
  const v6 = /^\[([^\]]*)\](?::(\d+))?$/.exec(where);
  if (v6) {
    host = v6[1] === "::" || v6[1] === "" ? "::1" : v6[1]!;
    portText = v6[2] ?? "80";
  } else if (where.includes(":")) {
    const at = where.lastIndexOf(":");
    const address = where.slice(0, at);
    host = address === "*" || address === "0.0.0.0" || address === "" ? "127.0.0.1" : address;
    portText = where.slice(at + 1);
  } else if (!/^\d+$/.test(where)) {
    host = where === "*" ? "127.0.0.1" : where;
    portText = "80";
  }
  const port = Number(portText);
  return Number.isInteger(port) && port > 0 && port < 65536 ? { host, port, tls } : undefined;
}

/** The app's nginx server block(s), or undefined when Hop3 wrote none (or it cannot be read). */
export async function readNginxSite(hop3Root: string, app: string): Promise<NginxSite | undefined> {
  const file = nginxConfPath(hop3Root, app);
  let text: string;
  try {
    text = await readBoundedFile(file, { maxBytes: 256 * KiB, within: path.join(hop3Root, "nginx") });
  } catch (error) {
    if (error instanceof FileReadError) return undefined;
    throw error;
  }
  const serverNames: string[] = [];
  const listens: NginxListen[] = [];
  let passes = false;
  // Directives end with `;`; comments run to the end of the line.
  const statements = text.replace(/#[^\n]*/g, "").split(/[;{}]/);
  for (const statement of statements) {
    const words = statement.trim().split(/\s+/);
    const [name, ...args] = words;
    if (name === "listen") {
      const listen = listenOf(args);
      if (listen && !listens.some((l) => l.host === listen.host && l.port === listen.port)) listens.push(listen);
    } else if (name === "server_name") {
      for (const n of args) if (n !== "_" && n !== "" && !serverNames.includes(n)) serverNames.push(n);
    } else if (name === "uwsgi_pass" || name === "proxy_pass" || (name === "server" && args[0]?.startsWith("unix:"))) {
      passes = true;
    }
  }
  return { file, serverNames, listens, passes };
}

/** Where to ask nginx for the app: its TLS listener when it has one (Hop3's HTTPS-only sites redirect plain HTTP), else plain HTTP, else 127.0.0.1:80. */
export function nginxEntry(site: NginxSite | undefined): NginxListen {
  const listens = site?.listens ?? [];
  return listens.find((l) => l.tls && (l.host === "127.0.0.1" || l.host === "::1")) ?? listens.find((l) => l.tls) ?? listens.find((l) => l.host === "127.0.0.1") ?? listens[0] ?? { host: "127.0.0.1", port: 80, tls: false };
}
