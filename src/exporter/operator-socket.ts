// The operator socket: HTTP over a unix socket in the state directory, mode 0660, owned by the
// exporter's user and group. Whoever can connect is the operator (the file's permissions are the
// authentication) and knows it speaks to its own exporter (no other user can put a socket there).
// `maintenance`, `probe`, `reload` and `restarts reset` speak through it.

import http from "node:http";
import net from "node:net";
import { chmodSync, lstatSync, statSync, unlinkSync } from "node:fs";
import type { RequestListener } from "node:http";
import type { Logger } from "../lib/logger.js";
import { markOperatorSocket } from "./authority.js";

export interface OperatorSocket {
  close(): Promise<void>;
}

/** Whether something answers on the socket file (another exporter's). */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(file);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Listens on `file` for the operator; null (said in the log) when another exporter holds it or it cannot be made. */
export async function listenOnOperatorSocket(file: string, listener: RequestListener, logger: Logger): Promise<OperatorSocket | null> {
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(file);
  } catch {
    existing = undefined;
  }
  if (existing) {
    if (!existing.isSocket()) {
      logger.error({ socket: file }, `operator socket ${file} is something else than a socket; not replaced: the hop3-health commands cannot reach this exporter until it is removed`);
      return null;
    }
    if (await answers(file)) {
      logger.warn({ socket: file }, `another exporter answers on the operator socket ${file}: this one takes no operator commands`);
      return null;
    }
    unlinkSync(file);
  }
  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 0, keepAliveTimeout: 5_000 }, listener);
  server.on("connection", markOperatorSocket);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(file, () => resolve());
    });
    chmodSync(file, 0o660);
  } catch (error) {
    logger.error({ socket: file }, `operator socket ${file} cannot be made (${(error as NodeJS.ErrnoException).code ?? String(error)}): the hop3-health commands cannot reach this exporter`);
    server.close();
    return null;
  }
  const inode = statSync(file).ino;
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        // Removed only while it is still this one's (another exporter may have taken the name since).
        try {
          if (lstatSync(file).ino === inode) unlinkSync(file);
        } catch {
          // already gone
        }
      }),
  };
}
