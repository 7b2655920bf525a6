// A HOP3_ROOT laid out as Hop3's installer and deployer lay it out (../shared/HOP3-SERVER.md
// §1, §3, §5): hop3-server.toml with the installer's keys, apps/<name>/{git,src,data,log,venv},
// venv/LIVE_ENV (sorted KEY=VALUE lines, secrets in clear) and venv/SCALING, vassal files
// `<app>_<kind>.<n>.ini` written to uwsgi-available/ and copied to uwsgi-enabled/, and real
// processes that Hop3 would count as the app's: uWSGI workers carry the procname prefix
// `<app>:<kind>:`, attach-daemon workers run in apps/<app>/src.

import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./cli.js";
import { stopChild } from "./processes.js";
import { closedPort } from "./servers.js";

const APP_SCRIPT = fileURLToPath(new URL("../fixtures/app.mjs", import.meta.url));

/** A password that must never show up in any output: it sits in LIVE_ENV and the vassal files, as on a real server. */
export const APP_SECRET = "pg-Secr3t-in-LIVE_ENV";

export interface LayoutApp {
  name: string;
  /** hop3.toml text; none when undefined. */
  manifest?: string;
  /** Where the manifest goes: Hop3's `src/hop3/` (default), `src/`, or beside `src/` (hop3-health's earlier place). */
  manifestAt?: "src/hop3" | "src" | "app";
  /** PORT in LIVE_ENV; 0 for a static site; none written when null. */
  port?: number | null;
  hostName?: string;
  bindAddress?: string;
  /** Worker kinds and how many of each; a vassal file each (none: stopped, or static). */
  workers?: Record<string, number>;
}

export interface Layout {
  root: string;
  apps: Map<string, LayoutApp & { port: number | null }>;
}

/** hop3-server.toml as the installer writes it. */
export function serverToml(extra = ""): string {
  return [
    'HOP3_SECRET_KEY = "installer-secret-key-value"',
    'ADMIN_DOMAIN = "hop3.example.com"',
    'POSTGRES_HOST = "127.0.0.1"',
    'POSTGRES_SUPERUSER_PASSWORD = "hop3_0123456789abcdef0123456789abcdef"',
    'MYSQL_HOST = "127.0.0.1"',
    'MYSQL_SUPERUSER = "hop3"',
    'MYSQL_SUPERUSER_PASSWORD = "mysql-installer-password"',
    extra,
  ].join("\n");
}

function liveEnv(root: string, app: LayoutApp & { port: number | null }): string {
  const dir = path.join(root, "apps", app.name);
  const env: Record<string, string> = {
    APP: app.name,
    BIND_ADDRESS: app.bindAddress ?? "127.0.0.1",
    DATABASE_URL: `postgresql://${app.name}:${APP_SECRET}@127.0.0.1:5432/${app.name}`,
    HOME: root,
    HOP3_PUBLIC_URL: `https://${app.hostName?.split(" ")[0] ?? "localhost"}`,
    NGINX_IPV4_ADDRESS: "0.0.0.0",
    NGINX_IPV6_ADDRESS: "[::]",
    PATH: `${dir}/venv/bin:/usr/local/bin:/usr/bin:/bin`,
    PWD: dir,
    SECRET_KEY: `django ${APP_SECRET} with = and spaces`,
    USER: "hop3",
    VIRTUAL_ENV: `${dir}/venv`,
    ...(app.port !== null ? { PORT: String(app.port) } : {}),
    ...(app.hostName !== undefined ? { HOST_NAME: app.hostName } : {}),
  };
  return Object.keys(env)
    .sort()
    .map((key) => `${key}=${env[key]}\n`)
    .join("");
}

function vassal(root: string, app: LayoutApp & { port: number | null }, kind: string, ordinal: number): string {
  const dir = path.join(root, "apps", app.name);
  const lines: Record<string, string | string[]> = {
    chdir: `${dir}/src`,
    env: [`DATABASE_URL=postgresql://${app.name}:${APP_SECRET}@127.0.0.1:5432/${app.name}`, `PORT=${app.port ?? ""}`],
    gid: "hop3",
    "log-maxsize": "1048576",
    logfile: "",
    "logfile-chmod": "640",
    logto2: `${dir}/log/${kind}.${ordinal}.log`,
    master: "true",
    "procname-prefix": `${app.name}:${kind}:`,
    uid: "hop3",
    ...(kind === "wsgi" ? { "http-socket": `${app.bindAddress ?? "127.0.0.1"}:${app.port ?? 0}`, module: "app:application" } : {}),
    ...(kind !== "wsgi" ? { "attach-daemon": `sh -c "cd ${dir}/src && exec node app.mjs >>${dir}/log/${kind}.${ordinal}.log 2>&1"` } : {}),
  };
  const body = Object.keys(lines)
    .sort()
    .flatMap((key) => {
      const value = lines[key]!;
      return (Array.isArray(value) ? value : [value]).map((v) => `${key} = ${v}`);
    });
  return `[uwsgi]\n${body.join("\n")}\n`;
}

/** Builds the layout; apps get a free port unless they say otherwise. */
export async function makeHop3Layout(apps: LayoutApp[], options: { root?: string; serverTomlExtra?: string; serverToml?: string } = {}): Promise<Layout> {
  const root = options.root ?? tempDir("hop3-layout-");
  for (const dir of ["apps", "uwsgi", "uwsgi-available", "uwsgi-enabled", "nginx", "cache", "certificates", "log", "acme", "venv"]) {
    await mkdir(path.join(root, dir), { recursive: true });
  }
  await writeFile(path.join(root, "hop3-server.toml"), options.serverToml ?? serverToml(options.serverTomlExtra), { mode: 0o600 });
  const layout: Layout = { root, apps: new Map() };
  for (const app of apps) {
    const full = { ...app, port: app.port === undefined ? await closedPort() : app.port };
    layout.apps.set(app.name, full);
    const dir = path.join(root, "apps", app.name);
    for (const sub of ["git", "src", "data", "log", "venv"]) await mkdir(path.join(dir, sub), { recursive: true });
    if (app.manifest !== undefined) {
      const where = app.manifestAt ?? "src/hop3";
      const file = where === "app" ? path.join(dir, "hop3.toml") : path.join(dir, where, "hop3.toml");
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, app.manifest);
    }
    await writeFile(path.join(dir, "venv", "LIVE_ENV"), liveEnv(root, full));
    const workers = app.workers ?? {};
    await writeFile(
      path.join(dir, "venv", "SCALING"),
      Object.keys(workers)
        .sort()
        .map((kind) => `${kind}:${workers[kind]}\n`)
        .join(""),
    );
    await enableVassals(layout, app.name);
  }
  return layout;
}

/** Writes the app's vassal files to uwsgi-available and copies them to uwsgi-enabled, as a spawn does. */
export async function enableVassals(layout: Layout, name: string): Promise<void> {
  const app = layout.apps.get(name)!;
  for (const [kind, count] of Object.entries(app.workers ?? {})) {
    for (let n = 1; n <= count; n++) {
      const file = `${name}_${kind}.${n}.ini`;
      await writeFile(path.join(layout.root, "uwsgi-available", file), vassal(layout.root, app, kind, n));
      await copyFile(path.join(layout.root, "uwsgi-available", file), path.join(layout.root, "uwsgi-enabled", file));
    }
  }
}

/** Rewrites LIVE_ENV and the vassal files, as Hop3 does when it (re)spawns the app. */
export async function respawn(layout: Layout, name: string): Promise<void> {
  const app = layout.apps.get(name)!;
  await writeFile(path.join(layout.root, "apps", name, "venv", "LIVE_ENV"), liveEnv(layout.root, app));
  await enableVassals(layout, name);
}

export interface AppProcess {
  child: ChildProcess;
  /** Every request it saw: Host header and path. */
  requests(): Array<{ host?: string; path: string }>;
  stop(): Promise<void>;
}

/**
 * A real process of the app, as uWSGI would run it: a `wsgi` worker carries the procname prefix
 * `<app>:wsgi:`; any other kind runs in apps/<app>/src as attach-daemon leaves it.
 */
export async function startAppProcess(layout: Layout, name: string, kind: string, mode: string, env: Record<string, string> = {}): Promise<AppProcess> {
  const app = layout.apps.get(name)!;
  const dir = path.join(layout.root, "apps", name);
  const child = spawn(process.execPath, [APP_SCRIPT], {
    ...(kind === "wsgi" ? { argv0: `${name}:${kind}:uWSGI worker 1` } : { cwd: path.join(dir, "src") }),
    env: { MODE: mode, PORT: String(app.port ?? 0), BIND_ADDRESS: app.bindAddress ?? "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const seen: Array<{ host?: string; path: string }> = [];
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) seen.push(JSON.parse(line) as { host?: string; path: string });
  });
  await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`app ${name} exited (${code}) before listening`)));
  });
  return { child, requests: () => seen, stop: () => stopChild(child) };
}
