// What every router of the exporter shares, on express: replies with their length, a JSON body
// read within a size limit, 405 with Allow for a known path asked with another method, and the
// error handler that turns whatever a handler threw into a JSON answer (never a stack trace).

import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response, type Router } from "express";

/** A reply: status, content type, body; express sets Content-Length. */
export function send(res: Response, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.status(status).set(headers).type(contentType).send(body);
}

export function sendJson(res: Response, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value), headers);
}

export function sendText(res: Response, status: number, text: string): void {
  send(res, status, "text/plain; charset=utf-8", text);
}

/** The request's URL, parsed (query parameters given twice stay visible, unlike req.query's first pick). */
export function urlOf(req: Request): URL {
  return new URL(req.originalUrl, "http://exporter");
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

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\b/i;

/** The body as JSON, at most `limit` bytes; the handler finds it in req.body (an object), or the request is refused with 400. */
export function jsonBody(limit: number): RequestHandler[] {
  return [
    express.json({ limit, strict: false, type: (req) => JSON_TYPE.test(req.headers["content-type"] ?? "") }),
    (req, _res, next) => {
      const body: unknown = req.body;
      next(typeof body === "object" && body !== null && !Array.isArray(body) ? undefined : new HttpError(400, "send a JSON object with Content-Type: application/json"));
    },
  ];
}

type Methods = Partial<Record<"get" | "post", RequestHandler | RequestHandler[]>>;

/** A path with its handlers by method; another method gets 405 and Allow (HEAD is answered as GET, without a body). */
export function route(router: Router, path: string, methods: Methods): void {
  const r = router.route(path);
  if (methods.get) r.get(methods.get);
  if (methods.post) r.post(methods.post);
  const allow = [...(methods.get ? ["GET", "HEAD"] : []), ...(methods.post ? ["POST"] : [])].join(", ");
  r.all((req: Request, res: Response) => {
    res.set("allow", allow);
    sendText(res, 405, `${req.method} is not allowed here: ${allow}.\n`);
  });
}

/** The last handlers: 404 for paths no router knows, and errors as JSON with their status. */
export function finalHandlers(notFound: string): [RequestHandler, ErrorRequestHandler] {
  const unknown: RequestHandler = (_req, res) => sendText(res, 404, notFound);
  const failed: ErrorRequestHandler = (error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, ...answerFor(error));
  };
  return [unknown, failed];
}

/** Status and body for an error: ours, body-parser's (too large, not JSON, a bad %-escape in a path), or anything else as 500. */
function answerFor(error: unknown): [number, { error: string }] {
  if (error instanceof HttpError) return [error.status, { error: error.message }];
  const e = error as { status?: unknown; type?: unknown; limit?: unknown; message?: unknown };
  const status = typeof e.status === "number" && e.status >= 400 && e.status < 500 ? e.status : 500;
  if (e.type === "entity.too.large") return [413, { error: `the body is larger than ${String(e.limit)} bytes` }];
  if (e.type === "entity.parse.failed") return [400, { error: `the body is not JSON: ${String(e.message)}` }];
  if (status < 500) return [status, { error: typeof e.message === "string" ? e.message : "bad request" }];
  return [500, { error: error instanceof Error ? error.message : "internal error" }];
}
