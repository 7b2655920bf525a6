// MySQL / MariaDB: a fresh connection, the server's version and its connections in use, then
// the connection destroyed.

import type { Connection, RowDataPacket } from "mysql2/promise";
import * as z from "#zod";
import type { HealthCheckResult, Plugin } from "../src/health/model.js";
import { budgetMs, endpointOfUrl, networkMessage, safeUrl, timedOutMessage, urlSetting, type Endpoint, withSettingsOrigin } from "../src/lib/net.js";

const settings = z.strictObject({
  url: z.optional(urlSetting(["mysql", "mariadb"], "mysql://user@host:3306/db")),
  connections_warn_percent: z._default(z.number().check(z.minimum(1), z.maximum(100)), 90),
});
type Settings = z.infer<typeof settings>;

interface MysqlError {
  code?: string;
  errno?: number;
  message?: string;
}

function describeFailure(error: unknown, endpoint: Endpoint, user: string, database: string, timeoutSeconds: number): string {
  const network = networkMessage(error, endpoint, timeoutSeconds);
  if (network) return network;
  const { code, message = "" } = (error ?? {}) as MysqlError;
  switch (code) {
    case "ER_ACCESS_DENIED_ERROR":
    case "ER_ACCESS_DENIED_NO_PASSWORD_ERROR":
      return `authentication failed for user ${user} (${endpoint.where})`;
    case "ER_DBACCESS_DENIED_ERROR":
      return `user ${user} may not use database ${database} (${endpoint.where})`;
    case "ER_BAD_DB_ERROR":
      return `database ${database} does not exist (${endpoint.where})`;
    case "ER_CON_COUNT_ERROR":
      return `too many connections: the server refuses new ones (${endpoint.where})`;
    case "ER_HOST_NOT_PRIVILEGED":
    case "ER_HOST_IS_BLOCKED":
      return `this host may not connect (${endpoint.where}): ${message}`;
    case "PROTOCOL_CONNECTION_LOST":
      return `connection closed by ${endpoint.where} without a valid answer (is it MySQL?)`;
    case "PROTOCOL_SEQUENCE_TIMEOUT":
      return timedOutMessage(timeoutSeconds, endpoint, "waiting for an answer from");
  }
  if (/timeout|timed out/i.test(message)) return timedOutMessage(timeoutSeconds, endpoint);
  return `unexpected answer from ${endpoint.where} (is it MySQL?): ${message}`;
}

const plugin: Plugin = {
  name: "mysql",
  settings: { mysql: settings },
  getHealthChecks: (ctx) => [
    {
      id: "mysql",
      name: "MySQL",
      section: "Backing services",
      isConfigured: () => ctx.configFor<Settings>("mysql").url !== undefined,
      check: (signal) => withSettingsOrigin(ctx, "mysql", "MySQL", async (): Promise<HealthCheckResult> => {
        const config = ctx.configFor<Settings & { url: string }>("mysql");
        const url = new URL(config.url);
        const endpoint = endpointOfUrl(url, 3306);
        const user = decodeURIComponent(url.username) || "root";
        const database = decodeURIComponent(url.pathname.slice(1));
        const budget = budgetMs(ctx, "mysql");
        // One connection among at most connections_per_server to this server.
        return ctx.withServer(endpoint.where, async (): Promise<HealthCheckResult> => {
          // The driver is loaded by the first check that uses it, not by every command.
          const { default: mysql } = await import("mysql2/promise");
          let connection: Connection | undefined;
          const onAbort = (): void => connection?.destroy();
          signal.addEventListener("abort", onAbort, { once: true });
          try {
            connection = await mysql.createConnection({
              host: endpoint.host,
              port: endpoint.port,
              user,
              password: decodeURIComponent(url.password),
              ...(database ? { database } : {}),
              connectTimeout: budget.ms,
            });
            // Aborted while connecting: nothing else held it, so close it here.
            if (signal.aborted) connection.destroy();
            const [rows] = await connection.query<RowDataPacket[]>({
              sql: "SELECT VERSION() AS version, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_CONNECTED') AS connections, @@max_connections AS max_connections",
              timeout: budget.ms,
            });
            const row = rows[0] as { version: string; connections: string | number | null; max_connections: string | number };
            const connections = Number(row.connections ?? 0);
            const maxConnections = Number(row.max_connections);
            const crowded = (connections / maxConnections) * 100 >= config.connections_warn_percent;
            return {
              name: "MySQL",
              passed: !crowded,
              ...(crowded ? { severity: "warn" as const } : {}),
              message: crowded
                ? `${connections} of ${maxConnections} connections in use (${endpoint.where}): new ones will soon be refused`
                : `${row.version.includes("MariaDB") ? "MariaDB" : "MySQL"} ${row.version.replace(/-MariaDB.*$/, "")} at ${endpoint.where} (${connections} of ${maxConnections} connections in use)`,
              details: { version: row.version, connections, max_connections: maxConnections, endpoint: endpoint.where, database: database || null, user, url: safeUrl(url) },
            };
          } catch (error) {
            return {
              name: "MySQL",
              passed: false,
              message: describeFailure(error, endpoint, user, database, budget.seconds),
              details: { endpoint: endpoint.where, database: database || null, user, url: safeUrl(url) },
            };
          } finally {
            signal.removeEventListener("abort", onAbort);
            connection?.destroy();
          }
        }, signal);
      }),
    },
  ],
};

export default plugin;
