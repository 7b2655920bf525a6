// PostgreSQL: a fresh connection, a query for the server's version and how many of its
// connections are in use (an exhausted pool is the 2 AM story), then the connection closed.

import * as z from "#zod";
import type { HealthCheckResult, Plugin } from "../src/health/model.js";
import { budgetMs, endpointOfUrl, networkMessage, safeUrl, timedOutMessage, urlSetting, type Endpoint, withSettingsOrigin } from "../src/lib/net.js";

const settings = z.strictObject({
  url: z.optional(urlSetting(["postgresql", "postgres"], "postgresql://user@host:5432/db")),
  connections_warn_percent: z._default(z.number().check(z.minimum(1), z.maximum(100)), 90),
});
type Settings = z.infer<typeof settings>;

interface PgError {
  code?: string;
  message?: string;
}

/** A short sentence for a PostgreSQL failure, saying where and never with a password. */
function describeFailure(error: unknown, endpoint: Endpoint, user: string, database: string, timeoutSeconds: number): string {
  const network = networkMessage(error, endpoint, timeoutSeconds);
  if (network) return network;
  const { code, message = "" } = (error ?? {}) as PgError;
  switch (code) {
    case "28P01":
      return `authentication failed for user ${user} (${endpoint.where})`;
    case "28000":
      return /role .* does not exist/.test(message)
        ? `authentication failed for user ${user}: role does not exist (${endpoint.where})`
        : `authentication failed for user ${user}: ${message} (${endpoint.where})`;
    case "3D000":
      return `database ${database} does not exist (${endpoint.where})`;
    case "53300":
      return `too many connections: the server refuses new ones (${endpoint.where})`;
    case "57P03":
      return `the server is starting up or shutting down (${endpoint.where})`;
  }
  if (/timeout/i.test(message)) return timedOutMessage(timeoutSeconds, endpoint);
  if (/terminated unexpectedly|Connection terminated/i.test(message)) return `connection closed by ${endpoint.where} without a valid answer (is it PostgreSQL?)`;
  return `unexpected answer from ${endpoint.where} (is it PostgreSQL?): ${message}`;
}

const plugin: Plugin = {
  name: "postgresql",
  settings: { postgresql: settings },
  getHealthChecks: (ctx) => [
    {
      id: "postgresql",
      name: "PostgreSQL",
      section: "Backing services",
      isConfigured: () => ctx.configFor<Settings>("postgresql").url !== undefined,
      check: (signal) => withSettingsOrigin(ctx, "postgresql", "PostgreSQL", async (): Promise<HealthCheckResult> => {
        const config = ctx.configFor<Settings & { url: string }>("postgresql");
        const url = new URL(config.url);
        const endpoint = endpointOfUrl(url, 5432);
        const user = decodeURIComponent(url.username) || "postgres";
        const database = decodeURIComponent(url.pathname.slice(1)) || user;
        const budget = budgetMs(ctx, "postgresql");
        // One connection among at most connections_per_server to this server.
        return ctx.withServer(endpoint.where, async (): Promise<HealthCheckResult> => {
          // The driver is loaded by the first check that uses it, not by every command.
          const { default: pg } = await import("pg");
          const client = new pg.Client({
            connectionString: config.url,
            connectionTimeoutMillis: budget.ms,
            query_timeout: budget.ms,
            statement_timeout: budget.ms,
            application_name: "hop3-health",
          });
          // A connection error after connect() settled would otherwise be an unhandled 'error' event.
          client.on("error", () => undefined);
          const onAbort = (): void => void client.end().catch(() => undefined);
          signal.addEventListener("abort", onAbort, { once: true });
          try {
            await client.connect();
            const { rows } = await client.query<{ version: string; connections: number; max_connections: number }>(
              "SELECT current_setting('server_version') AS version, " +
                "(SELECT count(*)::int FROM pg_stat_activity) AS connections, " +
                "current_setting('max_connections')::int AS max_connections",
            );
            const row = rows[0]!;
            const usedPercent = (row.connections / row.max_connections) * 100;
            const crowded = usedPercent >= config.connections_warn_percent;
            const details = { version: row.version, connections: row.connections, max_connections: row.max_connections, endpoint: endpoint.where, database, user, url: safeUrl(url) };
            return {
              name: "PostgreSQL",
              passed: !crowded,
              ...(crowded ? { severity: "warn" as const } : {}),
              message: crowded
                ? `${row.connections} of ${row.max_connections} connections in use (${endpoint.where}): new ones will soon be refused`
                : `PostgreSQL ${row.version} at ${endpoint.where} (${row.connections} of ${row.max_connections} connections in use)`,
              details,
            };
          } catch (error) {
            return {
              name: "PostgreSQL",
              passed: false,
              message: describeFailure(error, endpoint, user, database, budget.seconds),
              details: { endpoint: endpoint.where, database, user, url: safeUrl(url) },
            };
          } finally {
            signal.removeEventListener("abort", onAbort);
            await client.end().catch(() => undefined);
          }
        }, signal);
      }),
    },
  ],
};

export default plugin;
