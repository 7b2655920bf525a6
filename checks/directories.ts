// HOP3_ROOT and its apps directory: there, a directory, and really writable (a file can be
// created and removed), so a read-only remount or a permission problem is caught.

import { randomBytes } from "node:crypto";
import { open, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { HealthCheck, HealthCheckResult, Plugin } from "../src/health/model.js";

const REASONS: Record<string, string> = {
  EROFS: "not writable: read-only file system",
  EACCES: "not writable: permission denied",
  EPERM: "not writable: operation not permitted",
  ENOSPC: "not writable: no space left on device",
  EDQUOT: "not writable: disk quota exceeded",
};

async function probeWritable(dir: string): Promise<Omit<HealthCheckResult, "name">> {
  const result = (passed: boolean, message: string): Omit<HealthCheckResult, "name"> => ({ passed, message, details: { path: dir } });
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) return result(false, `not a directory (${dir})`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return result(false, code === "ENOENT" ? `missing (${dir})` : `cannot be read: ${code ?? String(error)} (${dir})`);
  }
  const probe = path.join(dir, `.hop3-health-probe-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const handle = await open(probe, "wx", 0o600);
    try {
      await handle.writeFile("hop3-health write probe\n");
    } finally {
      await handle.close();
      await unlink(probe).catch(() => undefined);
    }
    return result(true, `writable (${dir})`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    return result(false, `${REASONS[code] ?? `not writable: ${code || String(error)}`} (${dir})`);
  }
}

function directoryCheck(id: string, name: string, dir: () => string): HealthCheck {
  return {
    id,
    name,
    section: "Filesystem",
    isConfigured: () => true,
    async check() {
      return { ...(await probeWritable(dir())), name };
    },
  };
}

const plugin: Plugin = {
  name: "directories",
  settings: { "hop3-root": z.strictObject({}), "apps-dir": z.strictObject({}) },
  getHealthChecks: (ctx) => [
    directoryCheck("hop3-root", "HOP3_ROOT", () => ctx.hop3Root),
    directoryCheck("apps-dir", "Apps directory", () => path.join(ctx.hop3Root, "apps")),
  ],
};

export default plugin;
