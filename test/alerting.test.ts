// The alert rules, the Alertmanager and Prometheus examples, the dashboard and the compose file,
// checked with the real tools: promtool, amtool, docker-compose.

import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { buildDashboard, dashboardJson } from "../grafana/dashboard.js";
import { buildFleetDashboard, SERVER_LINK } from "../grafana/fleet.js";
import { REPO, runCli, tempDir, type JsonReport } from "./helpers/cli.js";

function run(command: string, args: string[], cwd = REPO): Promise<{ code: number; output: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, output: stdout + stderr, stdout });
    });
  });
}

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const RULES_FILE = path.join(REPO, "alerts/hop3-health.rules.yml");
const rules = (parseYaml(readFileSync(RULES_FILE, "utf8")) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const CONTRACT_ALERTS = [
  "Hop3HealthCheckFailing",
  "Hop3HealthCheckDegraded",
  "Hop3HealthExporterDown",
  "Hop3HealthChecksStale",
  "Hop3CertificateExpiringSoon",
  "Hop3CertificateExpired",
  "Hop3DeployProbeFailed",
  "Hop3AppUnhealthy",
];

describe("alert rules", () => {
  it("pass promtool check rules", async () => {
    const result = await run("promtool", ["check", "rules", RULES_FILE]);
    expect(result.output).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });

  it("pass their promtool unit tests", async () => {
    const result = await run("promtool", ["test", "rules", "hop3-health.rules.test.yml"], path.join(REPO, "alerts"));
    expect(result.output).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });

  it("page once per fault class: each class has a promtool test that counts its critical alerts", () => {
    const tests = parseYaml(readFileSync(path.join(REPO, "alerts/hop3-health.rules.test.yml"), "utf8")) as {
      tests: Array<{ name?: string; promql_expr_test?: Array<{ expr: string; exp_samples: unknown[] }> }>;
    };
    const classes = ["a dead app", "a full disk", "an expired certificate", "a database down", "the exporter down", "a whole host down"];
    for (const fault of classes) {
      const test = tests.tests.find((t) => t.name === `one page: ${fault}`);
      expect(test, fault).toBeDefined();
      expect(test!.promql_expr_test?.[0]?.expr, fault).toMatch(/^count by \(alertname, \w+\) \(ALERTS\{alertstate="firing", severity="critical"\}\)$/);
      expect(test!.promql_expr_test?.[0]?.exp_samples, fault).toHaveLength(1);
    }
  });

  it("come with runbooks that say how to silence an alert and acknowledge a maintenance", () => {
    const runbooks = readFileSync(path.join(REPO, "docs/runbooks.md"), "utf8");
    expect(runbooks).toMatch(/amtool .*silence add alertname=\S+ instance=\S+/);
    expect(runbooks).toContain("silence expire");
    expect(runbooks).toMatch(/\*\*Acknowledging a maintenance\.\*\*[^]*amtool silence add instance=/);
    expect(runbooks).toMatch(/Alertmanager\s+UI/);
  });

  it("are all tested firing and not firing", () => {
    const tests = parseYaml(readFileSync(path.join(REPO, "alerts/hop3-health.rules.test.yml"), "utf8")) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of new Set(rules.map((r) => r.alert))) {
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length > 0), `${name} firing`).toBe(true);
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length === 0), `${name} not firing`).toBe(true);
    }
  });

  it("name the contract's alerts, with severity, summary, description and a runbook that exists", () => {
    const names = rules.map((r) => r.alert);
    for (const name of CONTRACT_ALERTS) expect(names).toContain(name);
    const runbooks = readFileSync(path.join(REPO, "docs/runbooks.md"), "utf8");
    const anchors = new Set([...runbooks.matchAll(/^## (\S+)$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const rule of rules) {
      expect(["critical", "warning", "info"], rule.alert).toContain(rule.labels?.severity);
      expect(Object.keys(rule.annotations ?? {}).sort(), rule.alert).toEqual(["description", "runbook_url", "summary"]);
      const anchor = /docs\/runbooks\.md#([a-z0-9-]+)$/.exec(rule.annotations!.runbook_url!)?.[1];
      expect(anchor, rule.alert).toBe(rule.alert!.toLowerCase());
      expect(anchors.has(anchor!), `runbook section for ${rule.alert}`).toBe(true);
      // A check or app label, static or carried by the series the expression selects.
      expect(Boolean(rule.labels?.check) || /hop3_(health_severity|health_check_|app_health|deploy_probe)|"check"|"app:/.test(rule.expr), rule.alert).toBe(true);
      // Nothing aggregates the instance away.
      expect(rule.expr, rule.alert).not.toMatch(/\b(sum|max|min|avg|count)\s*(\(|by\s*\((?![^)]*instance))/);
    }
  });
});

describe("Alertmanager example", () => {
  const file = path.join(REPO, "alerts/alertmanager.example.yml");

  it("passes amtool check-config", async () => {
    const result = await run("amtool", ["check-config", file]);
    expect(result.output).toContain("SUCCESS");
    expect(result.code).toBe(0);
  });

  it("routes critical to the pager, warning to chat and info nowhere", async () => {
    const route = async (...labels: string[]): Promise<string> => (await run("amtool", ["config", "routes", "test", `--config.file=${file}`, ...labels])).stdout.trim();
    expect(await route("severity=critical", "check=postgresql")).toBe("pager");
    expect(await route("severity=warning", "check=redis")).toBe("chat");
    expect(await route("severity=info", "check=ssl:hop3.example.com")).toBe("null");
  });

  it("groups by server, instance and check, and lets a critical alert inhibit the warnings of the same check", () => {
    const config = parseYaml(readFileSync(file, "utf8")) as {
      route: { group_by: string[] };
      inhibit_rules: Array<{ source_matchers: string[]; target_matchers: string[]; equal: string[] }>;
      receivers: Array<{ name: string; webhook_configs?: unknown[] }>;
    };
    expect(config.route.group_by).toEqual(expect.arrayContaining(["server", "instance", "check"]));
    expect(config.inhibit_rules).toContainEqual({ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["server", "instance", "check"] });
    expect(config.inhibit_rules).toContainEqual({ source_matchers: ['alertname="Hop3HealthExporterDown"'], target_matchers: ['alertname!="Hop3HealthExporterDown"'], equal: ["server", "instance"] });
    expect(config.receivers.find((r) => r.name === "null")?.webhook_configs).toBeUndefined();
  });
});

describe("Prometheus examples", () => {
  it("pass promtool check config, with the job named hop3-health", async () => {
    const dir = tempDir();
    await mkdir(path.join(dir, "rules"));
    await writeFile(path.join(dir, "rules/hop3-health.rules.yml"), readFileSync(RULES_FILE));
    for (const example of ["deploy/prometheus.yml", "deploy/compose/prometheus.yml"]) {
      const text = readFileSync(path.join(REPO, example), "utf8");
      const config = parseYaml(text) as { scrape_configs: Array<{ job_name: string }> };
      expect(config.scrape_configs.map((s) => s.job_name), example).toContain("hop3-health");
      const local = path.join(dir, path.basename(example));
      await writeFile(local, text.replaceAll("/etc/prometheus/rules/", `${dir}/rules/`));
      const result = await run("promtool", ["check", "config", local]);
      expect(result.code, `${example}: ${result.output}`).toBe(0);
    }
  });
});

describe("the fleet configuration (deploy/fleet/)", () => {
  it("passes promtool: the agent, the central Prometheus and its web configuration", async () => {
    const dir = tempDir();
    const local = (text: string): string => text.replaceAll("/etc/prometheus/rules/", `${dir}/`).replaceAll("/etc/prometheus/", `${dir}/`);
    for (const file of ["hop3-health.rules.yml", "central-ca.crt", "central.crt", "central.key", "remote-write.password", "self-scrape.password"]) await writeFile(path.join(dir, file), "");
    await writeFile(path.join(dir, "hop3-health.rules.yml"), readFileSync(RULES_FILE));
    for (const [file, args] of [
      ["agent.yml", ["check", "config", "--agent"]],
      ["central.yml", ["check", "config"]],
    ] as const) {
      await writeFile(path.join(dir, file), local(readFileSync(path.join(REPO, "deploy/fleet", file), "utf8")));
      const result = await run("promtool", [...args, path.join(dir, file)]);
      expect(result.code, `${file}: ${result.output}`).toBe(0);
    }
    const agent = parseYaml(readFileSync(path.join(REPO, "deploy/fleet/agent.yml"), "utf8")) as {
      global: { external_labels: Record<string, string> };
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ labels: Record<string, string> }> }>;
      remote_write: Array<{ url: string; basic_auth: { username: string; password_file: string }; tls_config: { ca_file: string } }>;
    };
    expect(agent.global.external_labels.hop3_server).toBe("web-1");
    expect(agent.scrape_configs[0]?.job_name).toBe("hop3-health");
    expect(agent.scrape_configs[0]?.static_configs[0]?.labels.instance).toBe("web-1:9483");
    expect(agent.remote_write[0]).toMatchObject({ url: expect.stringMatching(/^https:.*\/api\/v1\/write$/), basic_auth: { username: "web-1" }, tls_config: { ca_file: expect.any(String) } });
  });
});

describe("docker-compose.yml", () => {
  it("is a valid compose file with the whole stack", async () => {
    const result = await run("docker-compose", ["-f", "docker-compose.yml", "config", "--services"]);
    expect(result.code, result.output).toBe(0);
    const services = result.output.trim().split("\n");
    for (const name of ["hop3-health", "prometheus", "alertmanager", "grafana", "postgres", "mysql", "redis", "minio"]) expect(services).toContain(name);
    const compose = parseYaml(readFileSync(path.join(REPO, "docker-compose.yml"), "utf8")) as {
      services: Record<string, { volumes?: string[]; build?: string }>;
    };
    expect(compose.services["hop3-health"]?.build).toBe(".");
    expect(compose.services.prometheus?.volumes).toContain("./alerts/hop3-health.rules.yml:/etc/prometheus/rules/hop3-health.rules.yml:ro");
    expect(compose.services.alertmanager?.volumes).toContain("./alerts/alertmanager.example.yml:/etc/alertmanager/alertmanager.yml:ro");
    expect(compose.services.grafana?.volumes).toContain("./grafana/dashboards:/var/lib/grafana/dashboards:ro");
  });

  it("starts green: the exporter's own checks on the image's HOP3_ROOT pass before anything is broken", async () => {
    // The image's HOP3_ROOT, as the Dockerfile makes it, with the demo's hop3-server.toml mounted
    // in; the backing services are the demo's own containers, left out here.
    const dockerfile = readFileSync(path.join(REPO, "Dockerfile"), "utf8");
    const dirs = [...(/RUN mkdir -p ([^&\n]+)/.exec(dockerfile)?.[1] ?? "").matchAll(/\/home\/hop3\/(\S+)/g)].map((m) => m[1]!);
    expect(dirs).toEqual(expect.arrayContaining(["apps", "nginx", "uwsgi-available", "uwsgi-enabled"]));
    const root = tempDir("hop3-compose-demo-");
    for (const dir of dirs) mkdirSync(path.join(root, dir), { recursive: true });
    copyFileSync(path.join(REPO, "deploy/compose/hop3-server.toml"), path.join(root, "hop3-server.toml"));
    const result = await runCli(["status", "--json"], { HOP3_ROOT: root, HOP3_ETC_DIR: path.join(root, "etc-hop3") });
    const report = JSON.parse(result.stdout) as JsonReport;
    const notOk = report.sections.flatMap((s) => s.items).filter((i) => i.severity !== "ok");
    expect(notOk.map((i) => `${i.check}: ${i.detail}`)).toEqual([]);
    expect(result.code).toBe(0);
  });
});

describe("the Grafana dashboard", () => {
  const dashboard = buildDashboard();
  const panels = dashboard.panels ?? [];
  const targets = panels.flatMap((p) => ("targets" in p ? (p.targets ?? []) : []) as Array<{ expr: string }>);

  it("is committed as generated from grafana/dashboard.ts", () => {
    expect(readFileSync(path.join(REPO, "grafana/dashboards/hop3-health.json"), "utf8")).toBe(dashboardJson());
  });

  it("has $datasource and $instance variables, and every query keeps the instance", () => {
    const variables = dashboard.templating?.list ?? [];
    expect(variables.map((v) => [v.name, v.type])).toEqual([
      ["datasource", "datasource"],
      ["instance", "query"],
    ]);
    expect(targets.length).toBeGreaterThan(15);
    for (const { expr } of targets) expect(expr).toContain('instance=~"$instance"');
    for (const p of panels) expect(JSON.stringify(p)).toContain('"uid":"${datasource}"');
  });

  it("shows every section of the report as ✓/⚠/✗ tiles in green, yellow and red", () => {
    for (const section of ["Services", "Backing services", "Filesystem", "Configuration", "Certificates", "Apps"]) {
      const tiles = panels.find((p) => p.title === section);
      expect(tiles?.type, section).toBe("stat");
      const json = JSON.stringify(tiles);
      expect(json).toContain(`section=\\"${section}\\"`);
      for (const mapping of ['"text":"✓ ok","color":"green"', '"text":"⚠ warn","color":"#EAB839"', '"text":"✗ fail","color":"red"']) expect(json).toContain(mapping);
    }
    const titles = panels.map((p) => p.title);
    for (const title of ["Hop3 server", "Uptime", "Status", "Disk usage", "Certificates: days left", "App health", "Check durations", "Severity timeline"]) {
      expect(titles).toContain(title);
    }
  });

  it("has provisioning for its datasource and the dashboards", () => {
    const datasource = parseYaml(readFileSync(path.join(REPO, "grafana/provisioning/datasources/prometheus.yml"), "utf8")) as { datasources: Array<{ type: string }> };
    expect(datasource.datasources[0]?.type).toBe("prometheus");
    const provider = parseYaml(readFileSync(path.join(REPO, "grafana/provisioning/dashboards/hop3-health.yml"), "utf8")) as { providers: Array<{ options: { path: string } }> };
    expect(provider.providers[0]?.options.path).toBe("/var/lib/grafana/dashboards");
  });
});

describe("the fleet dashboard", () => {
  const fleet = buildFleetDashboard();
  const panels = fleet.panels ?? [];
  const exprs = panels.flatMap((p) => ("targets" in p ? (p.targets ?? []) : []) as Array<{ expr: string }>).map((t) => t.expr);

  it("is committed as generated from grafana/fleet.ts", () => {
    expect(readFileSync(path.join(REPO, "grafana/dashboards/hop3-fleet.json"), "utf8")).toBe(dashboardJson(fleet));
  });

  it("has $datasource and a multi-server $instance, and every query is reduced by instance in Prometheus", () => {
    const variables = fleet.templating?.list ?? [];
    expect(variables.map((v) => [v.name, v.type, v.multi ?? false, v.includeAll ?? false])).toEqual([
      ["datasource", "datasource", false, false],
      ["instance", "query", true, true],
    ]);
    expect(exprs.length).toBeGreaterThan(10);
    for (const expr of exprs) {
      // One series per server at most: no query hands the browser one series per check.
      expect(expr, expr).toMatch(/^(count\(|(max|min|sum) by \(instance)/);
      if (!expr.includes("ALERTS")) expect(expr, expr).toContain('instance=~"$instance"');
    }
  });

  it("lists every server with its status, problems, certificates, disks and exporter, linked to its own dashboard", () => {
    const table = panels.find((p) => p.type === "table");
    const json = JSON.stringify(table);
    for (const column of ["Server", "Status", "Failing checks", "Degraded checks", "Unhealthy apps", "Soonest certificate", "Fullest disk", "Exporter"]) expect(json).toContain(`"value":"${column}"`);
    expect(json).toContain(JSON.stringify(SERVER_LINK));
    // The link opens the per-server dashboard, whose variable it sets.
    expect(SERVER_LINK).toMatch(new RegExp(`^/d/${buildDashboard().uid}/`));
    expect(SERVER_LINK).toContain("var-instance=${__data.fields.instance}");
    expect((buildDashboard().templating?.list ?? []).map((v) => v.name)).toContain("instance");
  });
});
