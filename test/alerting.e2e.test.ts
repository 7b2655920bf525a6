// The whole chain: a real exporter, a real Prometheus loading the rules (with short `for:`), a real
// Alertmanager routing with the example config, and a webhook receiver here. A backing service
// breaks, the page arrives; it is mended, the page resolves. Then every dashboard query runs
// against that Prometheus and returns data.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildDashboard } from "../grafana/dashboard.js";
import { makeCertificate } from "./helpers/certs.js";
import { REPO, tempDir } from "./helpers/cli.js";
import { eventually, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { dashboardQueries, startForwarder, startReceiver, type WebhookMessage } from "./helpers/alerting.js";
import { startAlertmanager, startPrometheus, type RunningAlertmanager, type RunningPrometheus } from "./helpers/prometheus.js";
import { closedPort, requireSharedServers } from "./helpers/servers.js";

const stops: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

describe("alerting end to end", () => {
  it("pages Hop3HealthCheckFailing for a broken backing service, resolves it once mended, and feeds every dashboard query", async () => {
    await requireSharedServers();
    const receiver = await startReceiver();
    stops.push(receiver.stop);
    const brokenPort = await closedPort();

    // An exporter with a PostgreSQL check pointed at a closed port, a certificate and an app.
    const root = tempDir();
    await mkdir(path.join(root, "nginx/ssl"), { recursive: true });
    await writeFile(path.join(root, "nginx/ssl/hop3.crt"), (await makeCertificate({ domain: "hop3.example.test", notAfterDays: 40 })).pem);
    const appServer = http.createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => appServer.listen(0, "127.0.0.1", resolve));
    stops.push(() => new Promise((resolve) => appServer.close(resolve)));
    // An app that no vassal runs (this process serves it): watched over HTTP at its [apps.web] port.
    await mkdir(path.join(root, "apps/web/src"), { recursive: true });
    await writeFile(path.join(root, "apps/web/src/hop3.toml"), '[healthcheck]\npath = "/health"\ninterval = 1\n');
    await writeFile(path.join(root, "nginx.pid"), `${process.pid}\n`);
    const exporter: RunningExporter = await startExporter({
      root,
      interval: 1,
      // This test process stands in for nginx, so that the Services section has a check too.
      // Under a restart policy (it stays healthy: the policy's series are there, at zero).
      config: `[apps.web]\nport = ${(appServer.address() as net.AddressInfo).port}\nrestart = "on-failure"\n[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:${brokenPort}/test"\ntimeout = 1\n[checks.nginx]\npidfile = "${root}/nginx.pid"\n[heartbeats.backups]\nevery = "1h"\n`,
    });
    stops.push(() => exporter.stop("SIGKILL"));
    // Deploy probes that count are the operator's: asked over the operator socket, as `hop3-health probe` does.
    const probe = (): Promise<{ status: number }> => exporter.operator("POST", "/api/v1/probes", { app: "web" });
    expect((await probe()).status).toBe(200);

    // Alertmanager with the example's routing, its receivers pointed here, its waits shortened.
    const example = await readFile(path.join(REPO, "alerts/alertmanager.example.yml"), "utf8");
    const alertmanager: RunningAlertmanager = await startAlertmanager(
      example
        .replaceAll("http://127.0.0.1:5001", receiver.url)
        .replace(/group_wait: \S+/, "group_wait: 1s")
        .replace(/group_interval: \S+/, "group_interval: 1s"),
    );
    stops.push(() => alertmanager.stop());

    // Prometheus with the rules as they are, but for `for:` durations of 2 seconds.
    const rules = (await readFile(path.join(REPO, "alerts/hop3-health.rules.yml"), "utf8")).replace(/^(\s+for:) \S+$/gm, "$1 2s");
    const target = `127.0.0.1:${exporter.port}`;
    const prometheus: RunningPrometheus = await startPrometheus(
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [hop3-health.rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["${alertmanager.address}"]
scrape_configs:
  - job_name: hop3-health
    static_configs:
      - targets: ["${target}"]
`,
      { "hop3-health.rules.yml": rules },
      ["--rules.alert.resend-delay=1s"],
    );
    stops.push(() => prometheus.stop());

    // The page arrives at the pager receiver, critical, for the postgresql check of this instance.
    type Alert = WebhookMessage["alerts"][number];
    const firing = await eventually<Alert>(() => {
      const notes = receiver.received.get("/hop3/pager") ?? [];
      return notes.flatMap((n) => n.alerts).find((a) => a.status === "firing" && a.labels.alertname === "Hop3HealthCheckFailing");
    }, 60_000, "Hop3HealthCheckFailing at the pager");
    expect(firing.labels).toMatchObject({ severity: "critical", check: "postgresql", instance: target, job: "hop3-health", section: "Backing services" });
    // Named by the hostname the exporter reports, not its address.
    expect(firing.labels.server).toBe("exporter-test");
    expect(firing.annotations.summary).toBe("Hop3 check postgresql is failing on exporter-test");
    expect(firing.annotations.runbook_url).toMatch(/docs\/runbooks\.md#hop3healthcheckfailing$/);

    // Every dashboard query parses, runs and returns data. A second probe makes the probe counters move; a job reports in.
    expect((await probe()).status).toBe(200);
    expect((await fetch(await exporter.pingUrl("backups"), { method: "POST" })).status).toBe(200);
    await eventually(async () => (await prometheus.query("hop3_heartbeat_last_timestamp_seconds")).length > 0, 20_000, "the beat to be scraped");
    await eventually(async () => (await prometheus.query('hop3_deploy_probe_total{result="success"}'))[0]?.value[1] === "2", 20_000, "the second probe to be scraped");
    const instances = (await (await fetch(`${prometheus.url}/api/v1/label/instance/values?match[]=hop3_server_info`)).json()) as { data: string[] };
    expect(instances.data).toEqual([target]);
    for (const { title, promql } of dashboardQueries(buildDashboard(), target.replaceAll(".", "\\\\."))) {
      const result = await prometheus.query(promql);
      expect(result.length, `${title}: ${promql}`).toBeGreaterThan(0);
    }

    // Mended: the check passes again, and the page resolves.
    const stopForwarder = await startForwarder(brokenPort, 5432);
    stops.push(stopForwarder);
    const resolved = await eventually<Alert>(() => {
      const notes = receiver.received.get("/hop3/pager") ?? [];
      return notes.flatMap((n) => n.alerts).find((a) => a.status === "resolved" && a.labels.alertname === "Hop3HealthCheckFailing" && a.labels.check === "postgresql");
    }, 60_000, "Hop3HealthCheckFailing to resolve");
    expect(resolved.labels.instance).toBe(target);
    // The failure paged; it did not go to chat.
    const chat = (receiver.received.get("/hop3/chat") ?? []).flatMap((n) => n.alerts);
    expect(chat.some((a) => a.labels.alertname === "Hop3HealthCheckFailing")).toBe(false);
  }, 180_000);
});
