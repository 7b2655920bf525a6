// `hop3-health probe APP`: the deploy-time startup probe from the command line. It asks the
// local exporter to run it, so the verdict is counted and logged; when no exporter answers, it
// probes by itself and says that the verdict was not recorded.

import http from "node:http";
import type { Engine } from "../engine/engine.js";
import { InputError } from "../lib/errors.js";
import { parseListen } from "../lib/net.js";
import { runProbe, type Verdict } from "./probe.js";
import { resolveProbeTarget, type ProbeRequest } from "./target.js";

export interface ProbeOutcome {
  verdict: Verdict;
  recorded: boolean;
  note?: string;
}

/** The exporter's POST /api/v1/probes on this host; undefined when it cannot be asked. */
function askExporter(engine: Engine, request: ProbeRequest, windowSeconds: number): Promise<{ status: number; body: unknown } | undefined> {
  const { config } = engine;
  // Over TLS or behind basic auth the command has no credentials to offer: it probes by itself.
  if (config.web.tls_cert_file || Object.keys(config.web.basic_auth_users).length > 0) return Promise.resolve(undefined);
  const { host, port } = parseListen(config.listen);
  const target = host === undefined || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const body = JSON.stringify({
    app: request.app,
    ...(request.url !== undefined ? { url: request.url } : {}),
    ...(request.port !== undefined ? { port: request.port } : {}),
    ...(request.path !== undefined ? { path: request.path } : {}),
    ...(request.contains !== undefined ? { contains: request.contains } : {}),
    ...(request.timeoutSeconds !== undefined ? { timeout_seconds: request.timeoutSeconds } : {}),
  });
  return new Promise((resolve) => {
    const req = http.request(
      { host: target, port, method: "POST", path: "/api/v1/probes", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }, agent: false },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    // Connecting is quick or not at all; the answer may take the whole window.
    req.setTimeout((windowSeconds + 30) * 1000, () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end(body);
  });
}

export class ProbeRefused extends InputError {
  override name = "ProbeRefused";
}

export async function probeCommand(engine: Engine, request: ProbeRequest, options: { dryRun?: boolean } = {}): Promise<ProbeOutcome> {
  // Resolved here first, so bad input is reported the same way with or without an exporter.
  const target = await resolveProbeTarget(request, { hop3Root: engine.config.hop3_root, appsConfig: engine.config.apps, allowedHosts: engine.config.probes.allowed_hosts });
  if (options.dryRun) {
    return { verdict: await runProbe(target), recorded: false, note: "dry run: probed here, and the verdict was not recorded (no deploy counted)" };
  }
  const answer = await askExporter(engine, request, target.window);
  if (answer && (answer.status === 200 || answer.status === 422)) return { verdict: answer.body as Verdict, recorded: true };
  if (answer && answer.status === 400) throw new ProbeRefused(`the exporter refused the probe: ${(answer.body as { error?: string }).error ?? "bad request"}`);
  const verdict = await runProbe(target);
  return { verdict, recorded: false, note: "no hop3-health exporter answered on this host: probed here, and the verdict was not recorded" };
}
