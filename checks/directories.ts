// The folders Hop3 writes to, as Hop3's own status checks them: HOP3_ROOT, its apps, the Nginx
// config and the uWSGI available and enabled folders, each there, a directory, and really
// writable (a file can be created and removed, so a read-only remount is caught); and the user
// Hop3 runs as exists. When hop3-health runs as another user, a folder it may not write to is
// judged by whether Hop3's user could, and the message says who is who.

import { closeSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import path from "node:path";
import * as z from "#zod";
import type { HealthCheck, HealthCheckResult, Plugin, PluginContext, Severity } from "../src/health/model.js";
import { hop3RootState, noHop3Message } from "../src/hop3/server-toml.js";
import { currentUser, hop3UserName, lookupUser, type UnixUser } from "../src/hop3/user.js";
import { randomHex } from "../src/lib/random.js";

const REASONS: Record<string, string> = {
  EROFS: "not writable: read-only file system",
  EACCES: "not writable: permission denied",
  EPERM: "not writable: operation not permitted",
  ENOSPC: "not writable: no space left on device",
  EDQUOT: "not writable: disk quota exceeded",
};

type Outcome = Omit<HealthCheckResult, "name">;

/** Whether the user may write to a directory of this owner and mode (ACLs aside). */
function modeAllows(user: UnixUser, info: { uid: number; gid: number; mode: number }): boolean {
  if (user.uid === 0) return true;
  if (info.uid === user.uid) return (info.mode & 0o200) !== 0;
  if (info.gid === user.gid) return (info.mode & 0o020) !== 0;
  return (info.mode & 0o002) !== 0;
}

async function probeWritable(ctx: PluginContext, dir: string): Promise<Outcome> {
  const result = (severity: Severity, message: string, details: Record<string, unknown> = {}): Outcome => ({
    passed: severity === "ok",
    severity,
    message,
    details: { path: dir, ...details },
  });
  let info;
  try {
    info = statSync(dir);
    if (!info.isDirectory()) return result("fail", `not a directory (${dir})`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return result("fail", code === "ENOENT" ? `missing (${dir})` : `cannot be read: ${code ?? String(error)} (${dir})`);
  }
  // Written with synchronous calls: a few bytes on the server's own disk, where the thread pool's
  // round trips cost more than the writing.
  const probe = path.join(dir, `.hop3-health-probe-${process.pid}-${randomHex(8)}`);
  try {
    const fd = openSync(probe, "wx", 0o600);
    try {
      writeSync(fd, "hop3-health write probe\n");
    } finally {
      closeSync(fd);
      rmSync(probe, { force: true });
    }
    // Root writes anywhere: whether Hop3's user, who writes here, may too is what counts.
    const me = currentUser();
    if (me.uid === 0) {
      const hop3Name = await hop3UserName(ctx.hop3Root);
      const hop3 = hop3Name === me.name ? undefined : await lookupUser(hop3Name);
      if (hop3 && !modeAllows(hop3, info)) {
        const mode = (info.mode & 0o7777).toString(8).padStart(4, "0");
        return result("fail", `not writable by ${hop3Name} (mode ${mode}, owner uid ${info.uid}); only root may write here (${dir})`, { runs_as: me.name, hop3_user: hop3Name, mode, owner_uid: info.uid, reason: "permission" });
      }
    }
    return result("ok", `writable (${dir})`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (code !== "EACCES" && code !== "EPERM") return result("fail", `${REASONS[code] ?? `not writable: ${code || String(error)}`} (${dir})`);
    // Not writable by this process: is it by Hop3's user, who writes here?
    const me = currentUser();
    const hop3Name = await hop3UserName(ctx.hop3Root);
    const hop3 = hop3Name === me.name ? undefined : await lookupUser(hop3Name);
    const mode = (info.mode & 0o7777).toString(8).padStart(4, "0");
    const who = { runs_as: me.name, hop3_user: hop3Name, mode, owner_uid: info.uid };
    if (hop3 && modeAllows(hop3, info)) {
      return result("ok", `writable by ${hop3Name} (mode ${mode}), not by user ${me.name} that hop3-health runs as (${dir})`, who);
    }
    return result("fail", `not writable by user ${me.name}; hop3-health runs as ${me.name}${hop3 ? `, and ${hop3Name} may not write here either (mode ${mode})` : ""} (${dir})`, {
      ...who,
      reason: "permission",
    });
  }
}

function directoryCheck(ctx: PluginContext, id: string, name: string, dir: () => string): HealthCheck {
  return {
    id,
    name,
    section: "Filesystem",
    // Without a Hop3 installation, only HOP3_ROOT's own check speaks (and says so).
    isConfigured: async () => id === "hop3-root" || (await hop3RootState(ctx.hop3Root)) === "installed",
    async check() {
      if (id === "hop3-root") {
        const state = await hop3RootState(ctx.hop3Root);
        if (state !== "installed") return { name, passed: false, message: noHop3Message(ctx.hop3Root, state), details: { path: ctx.hop3Root, reason: "config" } };
      }
      return { ...(await probeWritable(ctx, dir())), name };
    },
  };
}

function userCheck(ctx: PluginContext): HealthCheck {
  const name = "hop3 user";
  return {
    id: "hop3-user",
    name,
    section: "Filesystem",
    isConfigured: async () => (await hop3RootState(ctx.hop3Root)) === "installed",
    async check(): Promise<HealthCheckResult> {
      const user = await hop3UserName(ctx.hop3Root);
      const found = await lookupUser(user);
      return found
        ? { name, passed: true, message: `${user} exists (uid ${found.uid})`, details: { user, uid: found.uid, gid: found.gid } }
        : { name, passed: false, message: `user ${user} does not exist (HOP3_USER, default hop3)`, details: { user, reason: "config" } };
    },
  };
}

const FOLDERS: ReadonlyArray<[id: string, name: string, sub: string]> = [
  ["hop3-root", "HOP3_ROOT", ""],
  ["apps-dir", "Apps directory", "apps"],
  ["nginx-config", "Nginx config", "nginx"],
  ["uwsgi-available", "uWSGI available", "uwsgi-available"],
  ["uwsgi-enabled", "uWSGI enabled", "uwsgi-enabled"],
];

const plugin: Plugin = {
  name: "directories",
  settings: Object.fromEntries([...FOLDERS.map(([id]) => id), "hop3-user"].map((id): [string, z.ZodMiniType] => [id, z.strictObject({})])),
  getHealthChecks: (ctx) => [...FOLDERS.map(([id, name, sub]) => directoryCheck(ctx, id, name, () => path.join(ctx.hop3Root, sub))), userCheck(ctx)],
};

export default plugin;
