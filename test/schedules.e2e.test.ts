// What is a calendar: jobs that report in on a cron schedule in their time zone (daylight-saving
// changes included), and recurring maintenance windows, in `status`, `maintenance list`, `serve`
// and its API. node-cron reads the expressions; the exporter's own clock is faked only in the
// in-process part, where the days of a daylight-saving change are walked through.

import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import heartbeats from "../checks/heartbeats.js";
import { HeartbeatStore } from "../src/engine/heartbeats.js";
import type { HealthCheckResult, HeartbeatSetting, PluginContext } from "../src/health/model.js";
import { itemsOf, makeHop3Root, runCli, type JsonReport } from "./helpers/cli.js";
import { eventually, metricValue, startExporter, type RunningExporter } from "./helpers/exporter.js";

/** The heartbeat check of one job, over a store in a temporary file, at whatever time the clock says. */
async function scheduledJob(setting: HeartbeatSetting): Promise<{ store: HeartbeatStore; judge: () => Promise<HealthCheckResult> }> {
  const store = new HeartbeatStore(path.join(mkdtempSync(path.join(os.tmpdir(), "hop3-beats-")), "beats.json"), (text) => text);
  store.load({ backup: setting });
  const ctx = { heartbeats: { backup: setting }, beats: store } as unknown as PluginContext;
  const [check] = await heartbeats.getHealthChecks(ctx);
  return { store, judge: () => check!.check(new AbortController().signal) };
}

describe("a job on a cron schedule, in its time zone", () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const at = (iso: string): void => {
    vi.setSystemTime(new Date(iso));
  };

  it("is due by the first run after its last beat, + grace; the autumn's repeated hour neither pages nor is run twice", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    // 02:30 in Paris; on 2026-10-25 the clocks go back at 03:00 CEST, so 02:30 comes twice (00:30Z, then 01:30Z).
    at("2026-10-24T00:35:00Z");
    const { store, judge } = await scheduledJob({ schedule: "30 2 * * *", tz: "Europe/Paris", grace: 1800 });
    store.record("backup", true, "dump done");
    expect(store.dueBy("backup")!.toISOString()).toBe("2026-10-25T01:30:00.000Z");
    // Past the first 02:30 + grace of the night: not a miss, the run is the second 02:30.
    at("2026-10-25T01:10:00Z");
    expect(await judge()).toMatchObject({ severity: "ok", message: expect.stringMatching(/^reported in 1d 35m ago: dump done; next run due by Sun 2026-10-25 02:30 Europe\/Paris \+ grace 30m$/) as unknown });
    at("2026-10-25T01:36:00Z");
    store.record("backup", true, undefined);
    expect(store.dueBy("backup")!.toISOString()).toBe("2026-10-26T01:30:00.000Z");
    at("2026-10-26T01:59:00Z");
    expect((await judge()).severity).toBe("ok");
    // No beat by 02:30 CET + 30 min on Monday: late, saying which run.
    at("2026-10-26T02:01:00Z");
    const late = await judge();
    expect(late).toMatchObject({ severity: "fail", details: { reason: "late", schedule: "30 2 * * *", tz: "Europe/Paris", due_by: "2026-10-26T01:30:00.000Z" } });
    expect(late.message).toMatch(/^late: the run of Mon 2026-10-26 02:30 Europe\/Paris \+ grace 30m did not report in \(schedule "30 2 \* \* \*"\); last beat 1d 25m ago$/);
  });

  it("follows the local clock across the spring change: a 23-hour day is no miss, and a skipped 02:30 is no page", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    // 03:00 in Paris every day: on 2026-03-29 the clocks go forward at 02:00, so that day is 23 hours long.
    at("2026-03-28T02:05:00Z");
    const daily = await scheduledJob({ schedule: "0 3 * * *", tz: "Europe/Paris", grace: 1800 });
    daily.store.record("backup", true, undefined);
    expect(daily.store.dueBy("backup")!.toISOString()).toBe("2026-03-29T01:00:00.000Z");
    at("2026-03-29T01:29:00Z");
    expect((await daily.judge()).severity).toBe("ok");
    at("2026-03-29T01:31:00Z");
    expect((await daily.judge()).severity).toBe("fail");

    // 02:30 does not exist on 2026-03-29: no run is expected that night (cron runs it at 03:00,
    // and that beat counts for the next run), and nothing pages.
    at("2026-03-28T01:35:00Z");
    const skipped = await scheduledJob({ schedule: "30 2 * * *", tz: "Europe/Paris", grace: 1800 });
    skipped.store.record("backup", true, undefined);
    expect(skipped.store.dueBy("backup")!.toISOString()).toBe("2026-03-30T00:30:00.000Z");
    at("2026-03-29T01:05:00Z");
    skipped.store.record("backup", true, undefined);
    at("2026-03-29T23:00:00Z");
    expect((await skipped.judge()).severity).toBe("ok");
    at("2026-03-30T01:01:00Z");
    expect((await skipped.judge()).severity).toBe("fail");
  });

  it("never reported in: late once its first run + grace has passed, from when it was first watched", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    at("2026-12-03T10:00:00Z");
    // Grace by default: a tenth of the time between two runs, at most an hour.
    const { judge } = await scheduledJob({ schedule: "0 */2 * * *" });
    const waiting = await judge();
    expect(waiting).toMatchObject({ severity: "ok", details: { grace_seconds: 720, due_by: "2026-12-03T12:00:00.000Z" } });
    expect(waiting.message).toBe("waiting for its first beat; next run due by Thu 2026-12-03 12:00 UTC + grace 12m");
    at("2026-12-03T12:13:00Z");
    expect(await judge()).toMatchObject({ severity: "fail", message: expect.stringMatching(/never reported in since it was first watched$/) as unknown });
  });
});

describe("schedules in the configuration", () => {
  it("are refused with the table, key and reason when the expression, the zone or the combination is wrong", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    await writeConfig(
      [
        '[heartbeats.a]\nschedule = "0 3 * *"',
        '[heartbeats.b]\nevery = "1h"\nschedule = "0 3 * * *"',
        '[heartbeats.c]\nevery = "1h"\ntz = "Europe/Paris"',
        '[heartbeats.d]\nschedule = "0 25 * * *"',
        '[maintenance.e]\nschedule = "0 4 * * 0"\ntz = "Mars/Olympus"\nduration = "1h"\nchecks = ["app:*"]',
        '[maintenance.f]\nschedule = "0 4 * * 0"\nduration = "2d"\nchecks = ["postgresql"]',
        '[maintenance.g]\nschedule = "0 4 * * 0"\nduration = "1h"\nchecks = ["app:<script>"]',
      ].join("\n"),
    );
    const result = await runCli(["check-config", configFile]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("heartbeats.a.schedule: expected a cron expression of 5 fields (minute hour day-of-month month day-of-week), such as \"0 3 * * *\"");
    expect(result.stderr).toContain('heartbeats.b: give every = "1h" or a cron schedule = "0 3 * * *", one of them');
    expect(result.stderr).toContain("heartbeats.c.tz: tz goes with a cron schedule");
    expect(result.stderr).toMatch(/heartbeats\.d\.schedule: not a cron expression: .*hour/);
    expect(result.stderr).toContain('maintenance.e.tz: unknown time zone "Mars/Olympus": expected an IANA name such as "Europe/Paris" or "UTC"');
    expect(result.stderr).toContain("maintenance.f.duration: a recurring window lasts at most 24h (a longer one is a check to turn off)");
    expect(result.stderr).toContain('maintenance.g.checks.0: expected a check id or a pattern such as "app:*"');
  });
});

describe("recurring maintenance windows", () => {
  let exporter: RunningExporter | undefined;
  afterEach(async () => {
    await exporter?.stop("SIGKILL");
    exporter = undefined;
  });

  it("one that began before the command ran holds, for the checks its patterns match; one to come shows its next start", async () => {
    const { configFile, writeConfig } = await makeHop3Root();
    // Every minute for 30 minutes: open whenever it is looked at. New Year in Auckland: to come.
    await writeConfig(
      [
        '[maintenance.always]\nschedule = "* * * * *"\nduration = "30m"\nchecks = ["hop3-r*", "apps-dir"]\nreason = "storage migration"',
        '[maintenance.new-year]\nschedule = "0 0 1 1 *"\ntz = "Pacific/Auckland"\nduration = "2h"\nchecks = ["disk-usage"]',
      ].join("\n"),
    );
    const status = await runCli(["--config", configFile, "status", "--json"]);
    const report = JSON.parse(status.stdout) as JsonReport & { scheduled_maintenance: Array<Record<string, unknown>> };
    const items = itemsOf(report);
    expect(items["hop3-root"]!.maintenance).toMatchObject({ reason: "storage migration" });
    expect(items["apps-dir"]!.maintenance).toMatchObject({ reason: "storage migration" });
    expect(items["disk-usage"]!.maintenance).toBeUndefined();
    expect(items["nginx-config"]!.maintenance).toBeUndefined();
    const [always, newYear] = report.scheduled_maintenance;
    expect(always).toMatchObject({ id: "always", tz: "UTC", duration_seconds: 1800, checks: ["hop3-r*", "apps-dir"], open: { until: expect.any(String) as unknown } });
    const newYearUtc = `${new Date().getUTCFullYear()}-12-31T11:00:00.000Z`;
    expect(newYear).toMatchObject({ id: "new-year", tz: "Pacific/Auckland", next: Date.now() < Date.parse(newYearUtc) ? newYearUtc : expect.stringMatching(/-12-31T11:00:00.000Z$/) });
    expect(newYear!.open).toBeUndefined();

    const text = await runCli(["--config", configFile, "status"]);
    expect(text.stdout).toMatch(/\nMaintenance always \(hop3-r\*, apps-dir\): open now, until \w{3} \d{4}-\d\d-\d\d \d\d:\d\d UTC\n/);
    expect(text.stdout).toMatch(/\nMaintenance new-year \(disk-usage\): next \w{3} \d{4}-01-01 00:00 Pacific\/Auckland for 2h\n/);

    const list = await runCli(["--config", configFile, "maintenance", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^hop3-root\s+until .* storage migration$/m);
    expect(list.stdout).toContain("Recurring windows:");
    expect(list.stdout).toMatch(/^new-year {2}"0 0 1 1 \*" \(Pacific\/Auckland\) for 2h: disk-usage — next \w{3} \d{4}-01-01 00:00 Pacific\/Auckland$/m);
  });

  it("opens at its minute in serve, without waiting for a cycle: metric, event log and API", async () => {
    // The next minute, in UTC, for one minute; cycles every 10 minutes so that only node-cron can open it in time.
    const next = new Date(Math.ceil((Date.now() + 1000) / 60_000) * 60_000);
    exporter = await startExporter({
      interval: 600,
      config: `[maintenance.soon]\nschedule = "${next.getUTCMinutes()} ${next.getUTCHours()} * * *"\nduration = "1m"\nchecks = ["hop3-root"]\nreason = "reboot"\n`,
    });
    const e = exporter;
    const inMaintenance = async (): Promise<number | undefined> => metricValue(await (await fetch(`${e.url}/metrics`)).text(), "hop3_health_maintenance", { check: "hop3-root" });
    await eventually(async () => (await inMaintenance()) === 0, 20_000, "the first cycle, out of maintenance");
    const before = (await (await fetch(`${e.url}/api/v1/maintenance`)).json()) as { recurring: Array<Record<string, unknown>> };
    expect(before.recurring).toEqual([expect.objectContaining({ id: "soon", next: next.toISOString(), checks: ["hop3-root"] })]);
    await eventually(async () => (await inMaintenance()) === 1, 75_000, "the window open at its minute");
    expect(Date.now()).toBeGreaterThanOrEqual(next.getTime());
    const during = (await (await fetch(`${e.url}/api/v1/maintenance`)).json()) as { windows: Array<Record<string, unknown>> };
    expect(during.windows).toEqual([expect.objectContaining({ check: "hop3-root", reason: "reboot", recurring: "soon", started: next.toISOString() })]);
    const events = (await (await fetch(`${e.url}/api/v1/events?kind=maintenance`)).json()) as { events: Array<Record<string, unknown>> };
    expect(events.events).toContainEqual(expect.objectContaining({ kind: "maintenance", check: "hop3-root", state: "start" }));
  }, 120_000);
});
