// A real Prometheus scrapes a real exporter, and reads hop3_health_severity back.

import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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
