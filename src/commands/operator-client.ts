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
 * Asks the running exporter; undefined when none answers on the socket (not running, or this user
 * may not reach it). `timeoutSeconds` bounds the whole answer.
 */
export function askExporter(config: Config, method: "GET" | "POST", path: string, body: unknown, timeoutSeconds: number): Promise<OperatorAnswer | undefined> {
  const text = body === undefined ? "" : JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      {
        socketPath: stateFile(config, "socket"),
        method,
        path,
        headers: body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
        agent: false,
      },
      (res) => {
        let answer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (answer += chunk));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(answer) as unknown });
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    req.setTimeout(timeoutSeconds * 1000, () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end(text);
  });
}

/** The error an answer carries, or a generic one. */
export function errorOf(answer: OperatorAnswer): string {
  const error = (answer.body as { error?: unknown } | null)?.error;
  return typeof error === "string" ? error : `the exporter answered ${answer.status}`;
}
