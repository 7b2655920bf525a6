// What Alertmanager pages and what a test breaks and mends: a webhook receiver, and a TCP forwarder
// to a backing service that can be stopped (broken) and started again (mended).

import http from "node:http";
import net from "node:net";
import type { Dashboard } from "@grafana/schema";

export interface WebhookMessage {
  receiver: string;
  status: string;
  alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
}

/** A webhook receiver: what Alertmanager posted, by path. */
export async function startReceiver(): Promise<{ url: string; received: Map<string, WebhookMessage[]>; stop: () => Promise<void> }> {
  const received = new Map<string, WebhookMessage[]>();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.set(req.url ?? "", [...(received.get(req.url ?? "") ?? []), JSON.parse(body) as WebhookMessage]);
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A TCP forwarder from `port` to `targetPort` (the machine's PostgreSQL): stop it to break the service, start it to mend it. */
export async function startForwarder(port: number, targetPort: number): Promise<() => Promise<void>> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** A dashboard's queries as Grafana sends them: its variables filled in (`instance` a regex). */
export function dashboardQueries(dashboard: Dashboard, instance: string): Array<{ title: string; promql: string }> {
  return (dashboard.panels ?? []).flatMap((p) =>
    ("targets" in p ? (p.targets ?? []) : []).map((t) => ({
      title: p.title ?? "",
      promql: (t as { expr: string }).expr.replaceAll("$instance", instance).replaceAll("$__range", "1h").replaceAll("$__rate_interval", "1m"),
    })),
  );
}
