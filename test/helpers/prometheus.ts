// Debian's Prometheus, started by the test on a free port, with its own storage.

import type { ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import https from "node:https";
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

/** How the test talks to a Prometheus that serves HTTPS with basic auth (--web.config.file). */
export interface PrometheusClient {
  /** PEM of the CA that signed its certificate. */
  ca: string;
  username: string;
  password: string;
}

/** GET over HTTPS with a CA and basic auth (fetch takes neither): status and body. */
function httpsGet(url: string, client: PrometheusClient): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca: client.ca, auth: `${client.username}:${client.password}` }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
  });
}

/** Starts Prometheus with this configuration (and files beside it); with `client`, it is reached over HTTPS. */
export async function startPrometheus(configYaml: string, extraFiles: Record<string, string> = {}, extraArgs: string[] = [], client?: PrometheusClient): Promise<RunningPrometheus> {
  const dir = tempDir("hop3-health-prometheus-");
  const port = await closedPort();
  for (const [name, content] of Object.entries(extraFiles)) await writeFile(path.join(dir, name), content);
  const configFile = path.join(dir, "prometheus.yml");
  await writeFile(configFile, configYaml.replaceAll("$PROMETHEUS_PORT", String(port)));
  const url = `${client ? "https" : "http"}://127.0.0.1:${port}`;
  const get = async (target: string): Promise<{ status: number; body: string }> => {
    if (client) return httpsGet(target, client);
    const response = await fetch(target);
    return { status: response.status, body: await response.text() };
  };
  const child = await startDaemon(
    "prometheus",
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--web.enable-lifecycle", ...extraArgs],
    dir,
    async () => (await get(`${url}/-/ready`)).status === 200,
    "Prometheus",
  );
  return {
    url,
    process: child,
    async query(promql) {
      const response = await get(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = JSON.parse(response.body) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
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
