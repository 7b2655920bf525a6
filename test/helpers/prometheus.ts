// Debian's Prometheus, started by the test on a free port, with its own storage.

import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { tempDir } from "./cli.js";
import { startDaemon, stopChild } from "./processes.js";
import { closedPort } from "./servers.js";

export interface RunningPrometheus {
  url: string;
  process: ChildProcess;
  /** An instant query; the result vector. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

export async function startPrometheus(configYaml: string, extraFiles: Record<string, string> = {}, extraArgs: string[] = []): Promise<RunningPrometheus> {
  const dir = tempDir("hop3-health-prometheus-");
  const port = await closedPort();
  for (const [name, content] of Object.entries(extraFiles)) await writeFile(path.join(dir, name), content);
  const configFile = path.join(dir, "prometheus.yml");
  await writeFile(configFile, configYaml);
  const url = `http://127.0.0.1:${port}`;
  const child = await startDaemon(
    "prometheus",
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--web.enable-lifecycle", ...extraArgs],
    dir,
    `${url}/-/ready`,
    "Prometheus",
  );
  return {
    url,
    process: child,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await response.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      if (body.status !== "success") throw new Error(`query ${promql}: ${body.error ?? response.status}`);
      return body.data.result;
    },
    stop: () => stopChild(child, "SIGTERM"),
  };
}

export function scrapeConfig(targets: string[], extra = ""): string {
  return `global:
  scrape_interval: 1s
  evaluation_interval: 1s
${extra}
scrape_configs:
  - job_name: hop3-health
    static_configs:
      - targets: [${targets.map((t) => `"${t}"`).join(", ")}]
`;
}

export interface RunningAlertmanager {
  url: string;
  address: string;
  stop(): Promise<void>;
}

/** Debian's Alertmanager, alone (no cluster), on a free port. */
export async function startAlertmanager(configYaml: string): Promise<RunningAlertmanager> {
  const dir = tempDir("hop3-health-alertmanager-");
  const port = await closedPort();
  const configFile = path.join(dir, "alertmanager.yml");
  await writeFile(configFile, configYaml);
  const url = `http://127.0.0.1:${port}`;
  const child = await startDaemon(
    "prometheus-alertmanager",
    [`--config.file=${configFile}`, `--storage.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="],
    dir,
    `${url}/-/ready`,
    "Alertmanager",
  );
  return { url, address: `127.0.0.1:${port}`, stop: () => stopChild(child, "SIGTERM") };
}
