// A Hop3 server's layout for the benchmarks (HOP3-SERVER.md): HOP3_ROOT with hop3-server.toml,
// apps whose LIVE_ENV, manifest and uWSGI vassal are where Hop3 writes them, and each app's
// "uWSGI worker": a small HTTP server whose command line starts with the vassal's procname prefix.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./net.js";

export interface BenchRoot {
  root: string;
  /** HOP3_ETC_DIR, with a secret-key. */
  etc: string;
  /** The script every app worker runs. */
  script: string;
}

/** An empty server: the folders and files Hop3's installer makes, run as this user. */
export function makeRoot(prefix: string): BenchRoot {
  const root = mkdtempSync(path.join(os.tmpdir(), `hop3-health-bench-${prefix}-`));
  const etc = path.join(root, "etc-hop3");
  for (const dir of ["apps", "nginx", "uwsgi-available", "uwsgi-enabled", etc]) mkdirSync(path.resolve(root, dir), { recursive: true });
  writeFileSync(path.join(root, "hop3-server.toml"), `HOP3_USER = "${os.userInfo().username}"\n`);
  writeFileSync(path.join(etc, "secret-key"), "bench-secret-key-0123456789abcdef\n", { mode: 0o600 });
  const script = path.join(root, "serve.mjs");
  writeFileSync(script, `import http from "node:http";\nhttp.createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1", () => process.send?.("up"));\n`);
  return { root, etc, script };
}

/** An app as Hop3 deploys it: manifest with a health endpoint, LIVE_ENV, an enabled vassal. */
export function layoutApp(root: string, name: string, port: number): void {
  const dir = path.join(root, "apps", name);
  for (const sub of ["src/hop3", "venv", "log"]) mkdirSync(path.join(dir, sub), { recursive: true });
  writeFileSync(path.join(dir, "src/hop3/hop3.toml"), '[healthcheck]\npath = "/health"\n');
  writeFileSync(path.join(dir, "venv/LIVE_ENV"), `APP=${name}\nBIND_ADDRESS=127.0.0.1\nDATABASE_URL=postgresql://u:secret@h/db\nPORT=${port}\n`);
  writeFileSync(path.join(root, "uwsgi-enabled", `${name}_wsgi.1.ini`), `[uwsgi]\nprocname-prefix = ${name}:wsgi:\n`);
}

/** The app's "uWSGI worker": an HTTP server whose command line starts with the procname prefix. */
export async function startWorker(script: string, name: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script], { argv0: `${name}:wsgi:uWSGI worker 1`, env: { PORT: String(port) }, stdio: ["ignore", "ignore", "inherit", "ipc"] });
  await new Promise((resolve) => child.once("message", resolve));
  child.disconnect();
  return child;
}

/** A server with these apps deployed and running (blog, shop and wiki by default): its root and each app's worker. */
export async function rootWithRunningApps(prefix: string, names: readonly string[] = ["blog", "shop", "wiki"]): Promise<BenchRoot & { workers: ChildProcess[] }> {
  const made = makeRoot(prefix);
  const workers: ChildProcess[] = [];
  for (const name of names) {
    const port = await freePort();
    layoutApp(made.root, name, port);
    workers.push(await startWorker(made.script, name, port));
  }
  return { ...made, workers };
}
