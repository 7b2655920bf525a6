// Runs the built `hop3-health` binary as a user would, with a clean environment.

import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { JsonReport } from "../../src/report/json.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = path.join(REPO, "dist/bin/hop3-health.cjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, options: { uid?: number } = {}): Promise<CliResult> {
  // A state directory of its own, unless a config file or the test names one (else, as root, every test would share /var/lib/hop3-health).
  const named = args.includes("--config") || args.includes("-c") || env.HOP3_HEALTH_CONFIG !== undefined || env.HOP3_HEALTH_STATE_DIR !== undefined;
  const cleanEnv: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", TMPDIR: os.tmpdir(), ...(named ? {} : { HOP3_HEALTH_STATE_DIR: tempDir("hop3-health-state-") }), ...env };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: cleanEnv, timeout: 60_000, ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}) },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export function tempDir(prefix = "hop3-health-test-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Hop3Root {
  root: string;
  configFile: string;
  writeConfig: (toml: string) => Promise<void>;
}

/**
 * A HOP3_ROOT that is healthy: apps/ there, hop3-server.toml with a secret key, and a config
 * with a fixed identity and disk thresholds above whatever this machine's disk is at.
 */
export async function makeHop3Root(extraConfig = ""): Promise<Hop3Root> {
  const root = tempDir();
  await makeHop3Folders(root);
  await writeFile(path.join(root, "hop3-server.toml"), testServerToml('HOP3_SECRET_KEY = "s3cr3t-value-for-tests"'));
  const configFile = path.join(root, "hop3-health.toml");
  const writeConfig = (toml: string): Promise<void> =>
    writeFile(
      configFile,
      // The extra config first, so its top-level keys stay outside the default tables after it.
      `state_dir = ${JSON.stringify(`${root}.state`)}\nhop3_root = ${JSON.stringify(root)}\nhop3_etc_dir = ${JSON.stringify(path.join(root, "etc-hop3"))}\n${toml}\n${toml.includes("[identity]") ? "" : '[identity]\nhostname = "test-host"\nip = "203.0.113.7"\nversion = "0.5.0"\n'}${toml.includes("[checks.disk-usage]") ? "" : "[checks.disk-usage]\nwarn_percent = 99.98\nfail_percent = 99.99\n"}`,
    );
  await writeConfig(extraConfig);
  return { root, configFile, writeConfig };
}

/** The folders Hop3's installer makes and its status checks: apps, nginx, uwsgi-available, uwsgi-enabled. */
export async function makeHop3Folders(root: string): Promise<void> {
  for (const dir of ["apps", "nginx", "uwsgi-available", "uwsgi-enabled"]) await mkdir(path.join(root, dir), { recursive: true });
}

/**
 * hop3-server.toml for a test root. This machine has no `hop3` user, so HOP3_USER names the user
 * the tests run as, which exists wherever they run.
 */
export function testServerToml(lines: string): string {
  return `${lines}\nHOP3_USER = ${JSON.stringify(os.userInfo().username)}\n`;
}

export type { JsonReport };
export type ReportItem = JsonReport["sections"][number]["items"][number] & { section: string };

/** The items of a `status --json` report, by check id, each with its section. */
export function itemsOf(report: JsonReport): Record<string, ReportItem> {
  return Object.fromEntries(report.sections.flatMap((s) => s.items.map((i) => [i.check, { ...i, section: s.title }])));
}
