// The few things the exporter needs from a web framework, on node:http alone: routes by method
// and path, a JSON body read within a size limit, and replies with their length. (Express cost
// every exporter 8 MB of memory and 200 ms of start-up for these.)

import type { IncomingMessage, ServerResponse } from "node:http";

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

/** A reply: status, content type, body; Content-Length is set from the body. */
export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { "content-type": contentType, "content-length": bytes.length, ...headers });
  res.end(bytes);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value), headers);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  send(res, status, "text/plain; charset=utf-8", text);
}

/** A request that cannot be served as sent: answered with its status and message as JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The body as JSON: at most `limit` bytes, sent as application/json. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) throw new HttpError(400, "send a JSON object with Content-Type: application/json");
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) throw new HttpError(413, `the body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `the body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch (error) {
    throw new HttpError(400, `the body is not JSON: ${(error as Error).message}`);
  }
}

export interface Router {
  get(path: string, handler: Handler): void;
  post(path: string, handler: Handler): void;
  /** The request listener for http.createServer. */
  handle: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * Routes by exact path, or by prefix for a path ending in "/*". HEAD is answered as GET (Node leaves the body out); a known path asked
 * with another method gets 405 and Allow. `before` runs first (basic auth) and may answer itself.
 */
export function createRouter(options: { before?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>; notFound: string }): Router {
  const routes = new Map<string, Map<string, Handler>>();
  const add = (method: string) => (path: string, handler: Handler) => {
    let byMethod = routes.get(path);
    if (!byMethod) routes.set(path, (byMethod = new Map<string, Handler>()));
    byMethod.set(method, handler);
  };
  const fail = (res: ServerResponse, error: unknown): void => {
    if (error instanceof HttpError) sendJson(res, error.status, { error: error.message });
    else if (!res.headersSent) sendJson(res, 500, { error: error instanceof Error ? error.message : "internal error" });
    else res.destroy();
  };
  const dispatch = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (options.before && !(await options.before(req, res))) return;
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://exporter");
    } catch {
      sendText(res, 400, "Bad request target.\n");
      return;
    }
    // Exact paths first, then "/prefix/*" routes (the handler reads the rest from url.pathname).
    const byMethod = routes.get(url.pathname) ?? [...routes].find(([route]) => route.endsWith("/*") && url.pathname.startsWith(route.slice(0, -1)))?.[1];
    if (!byMethod) {
      sendText(res, 404, options.notFound);
      return;
    }
    const handler = byMethod.get(req.method === "HEAD" ? "GET" : (req.method ?? "GET"));
    if (!handler) {
      const allow = [...byMethod.keys(), ...(byMethod.has("GET") ? ["HEAD"] : [])].join(", ");
      send(res, 405, "text/plain; charset=utf-8", `${req.method ?? "?"} is not allowed here: ${allow}.\n`, { allow });
      return;
    }
    await handler(req, res, url);
  };
  return {
    get: add("GET"),
    post: add("POST"),
    handle: (req, res) => {
      dispatch(req, res).catch((error: unknown) => fail(res, error));
    },
  };
}
