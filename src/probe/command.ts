// `hop3-health probe APP`: the deploy-time startup probe from the command line. It asks the
// local exporter to run it (over the operator socket), so the verdict is counted and logged; when
// no exporter answers there, it probes by itself and says that the verdict was not recorded.

import { askExporter, type OperatorAnswer } from "../commands/operator-client.js";
import type { Engine } from "../engine/engine.js";
import { InputError } from "../lib/errors.js";
import { runProbe, type Verdict } from "./probe.js";
import { resolveProbeTarget, type ProbeRequest } from "./target.js";

export interface ProbeOutcome {
  verdict: Verdict;
  recorded: boolean;
  note?: string;
}

/** The exporter's POST /api/v1/probes, over the operator socket; undefined when no exporter answers there. */
function askToProbe(engine: Engine, request: ProbeRequest, windowSeconds: number): Promise<OperatorAnswer | undefined> {
  const body = {
    app: request.app,
    ...(request.url !== undefined ? { url: request.url } : {}),
    ...(request.port !== undefined ? { port: request.port } : {}),
    ...(request.path !== undefined ? { path: request.path } : {}),
    ...(request.contains !== undefined ? { contains: request.contains } : {}),
    ...(request.timeoutSeconds !== undefined ? { timeout_seconds: request.timeoutSeconds } : {}),
  };
  // The answer may take the whole window.
  return askExporter(engine.config, "POST", "/api/v1/probes", body, windowSeconds + 30);
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
  const answer = await askToProbe(engine, request, target.window);
  if (answer && (answer.status === 200 || answer.status === 422)) return { verdict: answer.body as Verdict, recorded: true };
  if (answer && answer.status === 400) throw new ProbeRefused(`the exporter refused the probe: ${(answer.body as { error?: string }).error ?? "bad request"}`);
  const verdict = await runProbe(target);
  return { verdict, recorded: false, note: "no hop3-health exporter answered on its operator socket: probed here, and the verdict was not recorded" };
}
