// A fleet on one Prometheus, with real processes and the shipped configurations (deploy/fleet/,
// alerts/): three exporters with their own identities, three Prometheus agents remote-writing over
// TLS with basic auth to a central Prometheus that runs the rules, and Alertmanager with the
// example routing posting to a webhook here. One server's database breaks: exactly one page, naming
// that server; mended: resolved. One exporter stops: Hop3HealthExporterDown for that server
// alone. Every query of the fleet dashboard returns data from the central Prometheus.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildFleetDashboard } from "../grafana/fleet.js";
import { dashboardQueries, startForwarder, startReceiver, type WebhookMessage } from "./helpers/alerting.js";
import { makeAuthority, makeCertificate } from "./helpers/certs.js";
import { REPO, tempDir } from "./helpers/cli.js";
import { eventually, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { startDaemon, stopChild } from "./helpers/processes.js";
import { startAlertmanager, startPrometheus, type PrometheusClient } from "./helpers/prometheus.js";
import { closedPort, requireSharedServers } from "./helpers/servers.js";

const stops: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

type Alert = WebhookMessage["alerts"][number];
const SERVERS = ["web-1", "web-2", "web-3"] as const;
// The placeholder password of deploy/fleet/central-web.yml's users.
const PASSWORD = "change-me";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("a fleet of Hop3 servers on one Prometheus", () => {
  it("pages once per server and problem, naming the server, and feeds the fleet dashboard", async () => {
    await requireSharedServers();
    const dir = tempDir("hop3-health-fleet-");
    const receiver = await startReceiver();
    stops.push(receiver.stop);

    // Alertmanager with the example's routing, its waits shortened.
    const example = await readFile(path.join(REPO, "alerts/alertmanager.example.yml"), "utf8");
    const alertmanager = await startAlertmanager(
      example
        .replaceAll("http://127.0.0.1:5001", receiver.url)
        .replace(/group_wait: \S+/, "group_wait: 1s")
        .replace(/group_interval: \S+/, "group_interval: 1s"),
    );
    stops.push(() => alertmanager.stop());

    // The central Prometheus as deploy/fleet/ ships it: HTTPS with its CA, basic auth, the
    // remote-write receiver, the rules (with `for:` of 2 seconds), Alertmanager.
    const ca = await makeAuthority("Fleet CA");
    const caPem = ca.cert.toString("pem");
    const central = await makeCertificate({ domain: "central.example.com", ips: ["127.0.0.1"], issuer: ca, notAfterDays: 30 });
    await writeFile(path.join(dir, "central-ca.crt"), caPem);
    await writeFile(path.join(dir, "central.crt"), central.pem);
    await writeFile(path.join(dir, "central.key"), central.keyPem);
    await writeFile(path.join(dir, "password"), PASSWORD);
    const rules = (await readFile(path.join(REPO, "alerts/hop3-health.rules.yml"), "utf8")).replace(/^(\s+for:) \S+$/gm, "$1 2s");
    const localPaths = (text: string): string =>
      text
        .replaceAll("/etc/prometheus/rules/", `${dir}/`)
        .replaceAll("/etc/prometheus/remote-write.password", `${dir}/password`)
        .replaceAll("/etc/prometheus/self-scrape.password", `${dir}/password`)
        .replaceAll("/etc/prometheus/", `${dir}/`);
    await writeFile(path.join(dir, "hop3-health.rules.yml"), rules);
    // One user per server: web-1 and web-2 are in the example; web-3 is added as its README says.
    const webYaml = localPaths(await readFile(path.join(REPO, "deploy/fleet/central-web.yml"), "utf8"));
    const web2 = /^ {2}web-2: (\S+)$/m.exec(webYaml)!;
    await writeFile(path.join(dir, "central-web.yml"), webYaml.replace(web2[0], `${web2[0]}\n  web-3: ${web2[1]}`));
    const centralYaml = localPaths(await readFile(path.join(REPO, "deploy/fleet/central.yml"), "utf8"))
      .replace("evaluation_interval: 30s", "evaluation_interval: 1s\n  scrape_interval: 1s")
      .replace('"127.0.0.1:9093"', `"${alertmanager.address}"`)
      .replace("central.example.com:9090", "127.0.0.1:$PROMETHEUS_PORT");
    const client: PrometheusClient = { ca: caPem, username: "grafana", password: PASSWORD };
    const prometheus = await startPrometheus(
      centralYaml,
      {},
      ["--web.enable-remote-write-receiver", `--web.config.file=${dir}/central-web.yml`, "--rules.alert.resend-delay=1s"],
      client,
    );
    stops.push(() => prometheus.stop());
    const centralPort = new URL(prometheus.url).port;

    // Three Hop3 servers, each with its identity, a certificate (from a CA: a self-signed one would
    // rightly raise Hop3CertificateSelfSigned), and a PostgreSQL check; web-2
    // reaches PostgreSQL through a forwarder that the test stops (broken) and starts (mended).
    const forwardPort = await closedPort();
    let stopForwarder = await startForwarder(forwardPort, 5432);
    const exporters = new Map<string, RunningExporter>();
    for (const [i, name] of SERVERS.entries()) {
      const root = tempDir();
      await mkdir(path.join(root, "nginx/ssl"), { recursive: true });
      await writeFile(path.join(root, "nginx/ssl/hop3.crt"), (await makeCertificate({ domain: `${name}.example.test`, notAfterDays: 40 + i, issuer: ca })).pem);
      const port = name === "web-2" ? forwardPort : 5432;
      const exporter = await startExporter({
        root,
        interval: 1,
        config: `[identity]\nhostname = "${name}"\nip = "10.0.3.${i + 1}"\nversion = "0.5.0"\n[checks.postgresql]\nurl = "postgresql://postgres@127.0.0.1:${port}/test"\ntimeout = 1\n`,
      });
      stops.push(() => exporter.stop("SIGKILL"));
      exporters.set(name, exporter);

      // Its Prometheus agent, as deploy/fleet/agent.yml ships it, pointed at this exporter and the
      // central Prometheus, scraping every second.
      const agentDir = path.join(dir, `agent-${name}`);
      await mkdir(agentDir);
      const agentYaml = localPaths(await readFile(path.join(REPO, "deploy/fleet/agent.yml"), "utf8"))
        .replaceAll("web-1", name)
        .replace("scrape_interval: 30s", "scrape_interval: 1s")
        .replace('"127.0.0.1:9483"', `"127.0.0.1:${exporter.port}"`)
        .replace("https://central.example.com:9090", `https://127.0.0.1:${centralPort}`);
      await writeFile(path.join(agentDir, "agent.yml"), agentYaml);
      const agentPort = await closedPort();
      const agent = await startDaemon(
        "prometheus",
        ["--enable-feature=agent", `--config.file=${agentDir}/agent.yml`, `--storage.agent.path=${agentDir}/data`, `--web.listen-address=127.0.0.1:${agentPort}`],
        agentDir,
        `http://127.0.0.1:${agentPort}/-/ready`,
        `the Prometheus agent of ${name}`,
      );
      stops.push(() => stopChild(agent, "SIGTERM"));
    }

    // Every server arrives at the central Prometheus, with its name and its own instance.
    await eventually(async () => (await prometheus.query('up{job="hop3-health"} == 1')).length === 3, 60_000, "three servers remote-written to the central Prometheus");
    const up = await prometheus.query('up{job="hop3-health"}');
    expect(up.map((s) => [s.metric.hop3_server, s.metric.instance]).sort()).toEqual(SERVERS.map((name) => [name, `${name}:9483`]));

    // Every fleet dashboard query returns data, one row per server where it is per server.
    await eventually(async () => (await prometheus.query("hop3_certificate_not_after_timestamp_seconds")).length === 3, 30_000, "the certificates of the three servers");
    for (const { title, promql } of dashboardQueries(buildFleetDashboard(), ".+")) {
      const result = await prometheus.query(promql);
      expect(result.length, `${title}: ${promql}`).toBeGreaterThan(0);
      if (/^(max|min|sum) by \(instance/.test(promql)) expect(result.map((r) => r.metric.instance).sort(), `${title}: ${promql}`).toEqual(SERVERS.map((name) => `${name}:9483`));
    }

    // Healthy: once the fleet has arrived (the central Prometheus, started first, found no
    // hop3-health target for a moment, and said so), nothing fires and nothing pages.
    let stillFiring: string[] = [];
    await eventually(
      async () => {
        stillFiring = (await prometheus.query('ALERTS{alertstate="firing"}')).map((a) => `${a.metric.alertname} ${a.metric.server ?? ""} ${a.metric.check ?? ""}`);
        return stillFiring.length === 0;
      },
      30_000,
      "no alert firing",
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; still firing: ${stillFiring.join(", ")}`);
    });
    receiver.received.clear();
    await sleep(5_000);
    // And still nothing, past every rule's `for:` (2 s here): the first look can be too early to see one.
    expect((await prometheus.query('ALERTS{alertstate="firing"}')).map((a) => a.metric.alertname)).toEqual([]);
    // No page fires. (The "resolved" of the start's no-target alert may still arrive at Alertmanager's next group flush.)
    const pagedWhileHealthy = (receiver.received.get("/hop3/pager") ?? []).flatMap((n) => n.alerts);
    expect(pagedWhileHealthy.filter((a) => a.status === "firing")).toEqual([]);
    expect(pagedWhileHealthy.filter((a) => a.labels.alertname !== "Hop3HealthExporterDown")).toEqual([]);

    // web-2's database breaks: one page, naming web-2.
    await stopForwarder();
    const pages = (): Alert[] => (receiver.received.get("/hop3/pager") ?? []).flatMap((n) => n.alerts);
    const firing = await eventually(() => pages().find((a) => a.status === "firing" && a.labels.alertname === "Hop3HealthCheckFailing"), 60_000, "a page for web-2's PostgreSQL");
    expect(firing.labels).toMatchObject({ check: "postgresql", severity: "critical", hop3_server: "web-2", server: "web-2", instance: "web-2:9483" });
    expect(firing.annotations.summary).toBe("Hop3 check postgresql is failing on web-2");
    // Let repeats and any other alert arrive: still one problem, one page.
    await sleep(8_000);
    const paged = new Set(pages().filter((a) => a.status === "firing").map((a) => `${a.labels.alertname} ${a.labels.server} ${a.labels.check}`));
    expect([...paged]).toEqual(["Hop3HealthCheckFailing web-2 postgresql"]);

    // Mended: resolved.
    stopForwarder = await startForwarder(forwardPort, 5432);
    stops.push(() => stopForwarder());
    await eventually(() => pages().find((a) => a.status === "resolved" && a.labels.alertname === "Hop3HealthCheckFailing" && a.labels.server === "web-2"), 60_000, "the page for web-2 to resolve");

    // web-3's exporter stops: Hop3HealthExporterDown, for web-3 alone.
    await exporters.get("web-3")!.stop("SIGKILL");
    const down = await eventually(() => pages().find((a) => a.status === "firing" && a.labels.alertname === "Hop3HealthExporterDown"), 60_000, "Hop3HealthExporterDown for web-3");
    expect(down.labels).toMatchObject({ server: "web-3", hop3_server: "web-3", instance: "web-3:9483" });
    expect(down.annotations.summary).toBe("hop3-health on web-3 cannot be scraped");
    await sleep(5_000);
    // Firing pages only: the "resolved" of the start's no-target alert (no server) may arrive late.
    const downFor = new Set(pages().filter((a) => a.status === "firing" && a.labels.alertname === "Hop3HealthExporterDown").map((a) => a.labels.server));
    expect([...downFor]).toEqual(["web-3"]);
    // The fleet dashboard shows it: one exporter down, web-3's row says ✗ down (0).
    expect((await prometheus.query(dashboardQueries(buildFleetDashboard(), ".+").find((q) => q.title === "Exporters down")!.promql))[0]?.value[1]).toBe("1");
  }, 240_000);
});
