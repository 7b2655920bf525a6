// A real Prometheus scrapes a real exporter, and reads hop3_health_severity back.

import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import bcrypt from "bcryptjs";
import { makeAuthority, makeCertificate } from "./helpers/certs.js";
import { tempDir } from "./helpers/cli.js";
import { controllablePlugin, eventually, startExporter, type RunningExporter } from "./helpers/exporter.js";
import { scrapeConfig, startPrometheus, type RunningPrometheus } from "./helpers/prometheus.js";

let exporter: RunningExporter | undefined;
let prometheus: RunningPrometheus | undefined;
afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop("SIGKILL");
});

describe("Prometheus", () => {
  it("scrapes the exporter as job hop3-health and sees each check's severity", async () => {
    const plugin = await controllablePlugin();
    await writeFile(path.join(plugin, "two.severity"), "warn");
    await writeFile(path.join(plugin, "three.severity"), "fail");
    await writeFile(path.join(plugin, "off.severity"), "skip");
    exporter = await startExporter({ config: `plugins = ["${plugin}"]` });
    const target = `127.0.0.1:${exporter.port}`;
    prometheus = await startPrometheus(scrapeConfig([target]));

    const result = await eventually(async () => {
      const series = await prometheus!.query('hop3_health_severity{job="hop3-health",section="Apps"}');
      return series.length === 3 ? series : undefined;
      // Prometheus applies new targets after up to 5 s, then scrapes every second.
    }, 40_000, "Prometheus to have scraped the severities");
    const bySeverity = Object.fromEntries(result.map((s) => [s.metric.check, s.value[1]]));
    expect(bySeverity).toEqual({ "ctl-one": "0", "ctl-two": "1", "ctl-three": "2" });
    expect(result[0]!.metric.instance).toBe(target);

    const up = await prometheus.query('up{job="hop3-health"}');
    expect(up[0]?.value[1]).toBe("1");
    const overall = await prometheus.query("hop3_health_overall_severity");
    expect(overall[0]?.value[1]).toBe("2");
  }, 90_000);
});

describe("Prometheus over TLS with basic auth", () => {
  it("scrapes an exporter that serves a web config file (TLS, basic auth), as it scrapes node_exporter", async () => {
    const dir = tempDir();
    const authority = await makeAuthority("Exporters CA");
    const cert = await makeCertificate({ domain: "localhost", notAfterDays: 30, issuer: authority });
    await writeFile(path.join(dir, "tls.crt"), cert.pem);
    await writeFile(path.join(dir, "tls.key"), cert.keyPem);
    await writeFile(path.join(dir, "ca.pem"), authority.cert.toString("pem"));
    await writeFile(path.join(dir, "web.yml"), `tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  prometheus: ${await bcrypt.hash("s3cret-scrape", 4)}\n`);
    const secured = await startExporter({ scheme: "https", waitHealthy: false, args: ["--web.config.file", path.join(dir, "web.yml")] });
    const server = await startPrometheus(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: hop3-health
    scheme: https
    tls_config:
      ca_file: ${path.join(dir, "ca.pem")}
      server_name: localhost
    basic_auth:
      username: prometheus
      password: s3cret-scrape
    static_configs:
      - targets: ["127.0.0.1:${secured.port}"]
`);
    try {
      const up = await eventually(async () => {
        const series = await server.query('up{job="hop3-health"}');
        return series[0]?.value[1] === "1" ? series : undefined;
      }, 40_000, "Prometheus to scrape over TLS with basic auth");
      expect(up[0]!.metric.instance).toBe(`127.0.0.1:${secured.port}`);
      const severities = await eventually(async () => {
        const series = await server.query('hop3_health_severity{job="hop3-health",check="disk-usage"}');
        return series.length === 1 ? series : undefined;
      }, 20_000, "a severity scraped");
      expect(severities[0]!.value[1]).toBe("0");
    } finally {
      await server.stop();
      await secured.stop();
    }
  }, 90_000);
});
