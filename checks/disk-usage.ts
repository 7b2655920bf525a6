// Disk usage of the watched paths (HOP3_ROOT by default), from statfs, with warn and fail
// thresholds; size, available and ratio of each path are published as measurements.

import { statfs } from "node:fs/promises";
import path from "node:path";
import * as z from "#zod";
import { nonEmpty } from "../src/config/schema.js";
import type { HealthCheckResult, Measurement, Plugin, Severity } from "../src/health/model.js";
import { worstSeverity } from "../src/health/model.js";

const percent = z.number({ error: "expected a percentage" }).check(z.minimum(0), z.maximum(100));
const settings = z
  .strictObject({
    paths: z.optional(z.array(nonEmpty()).check(z.minLength(1))),
    warn_percent: z._default(percent, 80),
    fail_percent: z._default(percent, 90),
  })
  .check(z.refine((s) => s.warn_percent < s.fail_percent, { error: "warn_percent must be below fail_percent", path: ["warn_percent"] }));

interface Usage {
  path: string;
  /** The path statfs was asked about: the nearest existing one. */
  measured: string;
  size: number;
  available: number;
  ratio: number;
}

/** statfs of the path, or of its nearest existing parent (the disk it would be on). */
async function usageOf(watched: string): Promise<Usage> {
  for (let dir = path.resolve(watched); ; dir = path.dirname(dir)) {
    try {
      const fs = await statfs(dir);
      const size = fs.blocks * fs.bsize;
      const used = (fs.blocks - fs.bfree) * fs.bsize;
      return { path: watched, measured: dir, size, available: fs.bavail * fs.bsize, ratio: size > 0 ? used / size : 0 };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || path.dirname(dir) === dir) throw error;
    }
  }
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

const plugin: Plugin = {
  name: "disk-usage",
  settings: { "disk-usage": settings },
  getHealthChecks: (ctx) => [
    {
      id: "disk-usage",
      name: "Disk usage",
      section: "Filesystem",
      isConfigured: () => true,
      async check(): Promise<HealthCheckResult> {
        const config = ctx.configFor<z.infer<typeof settings>>("disk-usage");
        const watched = config.paths ?? [ctx.hop3Root];
        const usages = await Promise.all(watched.map(usageOf));
        const severityOf = (u: Usage): Severity =>
          u.ratio * 100 > config.fail_percent ? "fail" : u.ratio * 100 > config.warn_percent ? "warn" : "ok";
        const severity = worstSeverity(usages.map(severityOf));
        const describe = (u: Usage): string =>
          `${Math.round(u.ratio * 100)}% used on ${u.path} (${formatBytes(u.available)} free of ${formatBytes(u.size)})`;
        const shown = [...usages].sort((a, b) => b.ratio - a.ratio);
        // For Nagios: 'disk_usage'=84%;80;90;0;100, and the path in the label when several are watched.
        const suffix = (u: Usage): string => (usages.length > 1 ? ` ${u.path}` : "");
        const measurements: Measurement[] = usages.flatMap((u) => [
          { name: "hop3_disk_size_bytes", value: u.size, labels: { path: u.path } },
          { name: "hop3_disk_available_bytes", value: u.available, labels: { path: u.path }, perf: { label: `disk_available${suffix(u)}`, unit: "B", min: 0, max: u.size } },
          {
            name: "hop3_disk_usage_ratio",
            value: u.ratio,
            labels: { path: u.path },
            perf: { label: `disk_usage${suffix(u)}`, unit: "%", scale: 100, warn: config.warn_percent, crit: config.fail_percent, min: 0, max: 100 },
          },
        ]);
        return {
          name: "Disk usage",
          passed: severity === "ok",
          severity,
          message: shown.map(describe).join("; "),
          details: {
            warn_percent: config.warn_percent,
            fail_percent: config.fail_percent,
            paths: usages.map((u) => ({
              path: u.path,
              ...(u.measured === path.resolve(u.path) ? {} : { measured_at: u.measured }),
              size_bytes: u.size,
              available_bytes: u.available,
              used_percent: Number((u.ratio * 100).toFixed(2)),
              severity: severityOf(u),
            })),
          },
          measurements,
        };
      },
    },
  ],
};

export default plugin;
