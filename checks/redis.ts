// Redis: a fresh connection, PING, the server's version and connected clients, then the
// connection closed. Redis is optional for Hop3 apps: unreachable is a warning, not a failure.

import * as z from "#zod";
import type { HealthCheckResult, Plugin } from "../src/health/model.js";
import { budgetMs, endpointOfUrl, isUnreachable, networkMessage, safeUrl, timedOutMessage, urlSetting, type Endpoint, withSettingsOrigin } from "../src/lib/net.js";

const settings = z.strictObject({
  url: z.optional(urlSetting(["redis", "rediss"], "redis://host:6379/0")),
});
type Settings = z.infer<typeof settings>;

function describeFailure(error: unknown, endpoint: Endpoint, timeoutSeconds: number, database: string): string {
  const network = networkMessage(error, endpoint, timeoutSeconds);
  if (network) return network;
  const message = error instanceof Error ? error.message : String(error);
  if (/^(WRONGPASS|NOAUTH|ERR AUTH|ERR invalid password)/.test(message)) return `authentication failed (${endpoint.where})`;
  if (/DB index is out of range|invalid DB index/i.test(message)) return `database ${database} does not exist (${endpoint.where})`;
  if (/timed? ?out/i.test(message)) return timedOutMessage(timeoutSeconds, endpoint);
  if (/Connection is closed|connection closed/i.test(message)) return `connection closed by ${endpoint.where} without a valid answer (is it Redis?)`;
  return `unexpected answer from ${endpoint.where} (is it Redis?): ${message}`;
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, "m").exec(info)?.[1]?.trim();
}

const plugin: Plugin = {
  name: "redis",
  settings: { redis: settings },
  getHealthChecks: (ctx) => [
    {
      id: "redis",
      name: "Redis",
      section: "Backing services",
      severityOnFailure: "warn",
      isConfigured: () => ctx.configFor<Settings>("redis").url !== undefined,
      check: (signal) => withSettingsOrigin(ctx, "redis", "Redis", async (): Promise<HealthCheckResult> => {
        const config = ctx.configFor<Settings & { url: string }>("redis");
        const url = new URL(config.url);
        const endpoint = endpointOfUrl(url, 6379);
        const budget = budgetMs(ctx, "redis");
        // One connection among at most connections_per_server to this server.
        return ctx.withServer(endpoint.where, async (): Promise<HealthCheckResult> => {
          // The driver is loaded by the first check that uses it, not by every command.
          const { Redis } = await import("ioredis");
          const client = new Redis(config.url, {
            lazyConnect: true,
            connectTimeout: budget.ms,
            commandTimeout: budget.ms,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
            enableOfflineQueue: false,
            enableReadyCheck: false,
            // How long disconnect() waits for the server to close its side before destroying the socket.
            disconnectTimeout: budget.ms,
          });
          // disconnect() on a connection that is already gone arms a timer nothing clears.
          const close = (): void => {
            if (client.status !== "end") client.disconnect();
          };
          // ioredis reports the socket's error as an event and rejects with "Connection is closed":
          // the event says what really happened.
          let socketError: unknown;
          client.on("error", (error: unknown) => {
            socketError ??= error;
          });
          const onAbort = close;
          signal.addEventListener("abort", onAbort, { once: true });
          try {
            await client.connect();
            // Sent together, answered in order: one round trip. The name (CLIENT LIST shows who
            // is connected) is best effort: a server that refuses CLIENT is still healthy.
            const named = client.call("CLIENT", "SETNAME", "hop3-health").catch(() => undefined);
            // ioredis sends the URL's SELECT at connect and swallows its failure: asked again here.
            const db = Number(url.pathname.slice(1) || "0");
            const selected = db !== 0 ? client.select(db) : undefined;
            const [pong, info] = await Promise.all([client.ping() as Promise<string>, client.info(), named, selected]);
            if (pong !== "PONG") throw new Error(`PING answered ${JSON.stringify(pong)}`);
            const version = infoField(info, "redis_version") ?? "unknown";
            const clients = Number(infoField(info, "connected_clients") ?? NaN);
            const maxClients = Number(infoField(info, "maxclients") ?? NaN);
            return {
              name: "Redis",
              passed: true,
              message: `Redis ${version} at ${endpoint.where} (${Number.isNaN(clients) ? "?" : clients} clients connected)`,
              details: {
                version,
                connected_clients: Number.isNaN(clients) ? null : clients,
                maxclients: Number.isNaN(maxClients) ? null : maxClients,
                endpoint: endpoint.where,
                url: safeUrl(url),
              },
            };
          } catch (error) {
            const message = describeFailure(socketError ?? error, endpoint, budget.seconds, url.pathname.slice(1) || "0");
            const unreachable = isUnreachable(message);
            return {
              name: "Redis",
              passed: false,
              // Optional service: not there is a warning; there but answering wrongly is a failure.
              severity: unreachable ? "warn" : "fail",
              message: unreachable ? `unreachable — ${message}` : message,
              details: { endpoint: endpoint.where, url: safeUrl(url) },
            };
          } finally {
            signal.removeEventListener("abort", onAbort);
            close();
          }
        }, signal);
      }),
    },
  ],
};

export default plugin;
