// The commands' side of the operator socket: HTTP over the unix socket in the state directory.
// Only the exporter's user (and group) can reach it, so an answer comes from this server's own
// exporter, whatever listens on its TCP port.

import http from "node:http";
import type { Config } from "../config/schema.js";
import { stateFile } from "../engine/state-dir.js";

export interface OperatorAnswer {
  status: number;
  body: unknown;
}

/**
 * One HTTP request over a unix socket: its status and text, or undefined when nothing answers there
 * (or `timeoutSeconds` passed). The body is sent as it is, with its content type.
 */
export function requestOverSocket(
  socketPath: string,
  method: "GET" | "POST",
  path: string,
  body: { text: string; type: string } | undefined,
  timeoutSeconds: number,
): Promise<{ status: number; text: string } | undefined> {
  return new Promise((resolve) => {
    const req = http.request(
      { socketPath, method, path, headers: body ? { "content-type": body.type, "content-length": Buffer.byteLength(body.text) } : {}, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(timeoutSeconds * 1000, () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end(body?.text ?? "");
  });
}

/**
 * Asks the running exporter over its operator socket; undefined when none answers there (not
 * running, or this user may not reach it). `timeoutSeconds` bounds the whole answer.
 */
export async function askExporter(config: Config, method: "GET" | "POST", path: string, body: unknown, timeoutSeconds: number): Promise<OperatorAnswer | undefined> {
  const answer = await requestOverSocket(stateFile(config, "socket"), method, path, body === undefined ? undefined : { text: JSON.stringify(body), type: "application/json" }, timeoutSeconds);
  if (!answer) return undefined;
  try {
    return { status: answer.status, body: JSON.parse(answer.text) as unknown };
  } catch {
    return undefined;
  }
}

/** The error an answer carries, or a generic one. */
export function errorOf(answer: OperatorAnswer): string {
  const error = (answer.body as { error?: unknown } | null)?.error;
  return typeof error === "string" ? error : `the exporter answered ${answer.status}`;
}
