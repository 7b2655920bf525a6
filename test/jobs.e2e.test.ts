// Heartbeats: jobs (backups, cron workers, queue consumers) report in over HTTP, and a check per
// configured job fails when a beat is late, never came, or reported a failure.

import { afterEach, describe, expect, it } from "vitest";
import { itemsOf, runCli, type JsonReport } from "./helpers/cli.js";
import { eventually, metricValue, startExporter, type RunningExporter } from "./helpers/exporter.js";

let exporter: RunningExporter | undefined;
afterEach(async () => {
  await exporter?.stop("SIGKILL");
  exporter = undefined;
});

const JOBS = '[heartbeats.backups]\nevery = "2s"\ngrace = "1s"\n[heartbeats.queue]\nevery = "1h"\n';

async function report(e: RunningExporter): Promise<JsonReport> {
  return (await (await fetch(`${e.url}/status`)).json()) as JsonReport;
}

describe("heartbeats", () => {
  it("waits for a first beat, fails a job that never came, late or failing, and takes beats from curl", async () => {
    exporter = await startExporter({ config: JOBS });
    const e = exporter;
    const item = async (id: string) => itemsOf(await report(e))[`heartbeat:${id}`];
    await eventually(async () => (await item("queue"))?.severity === "ok", 15_000, "the queue job waiting");
    // Its grace by default: a tenth of the period.
    expect((await item("queue"))!.detail).toMatch(/^waiting for its first beat, due within 1h [56]m$/);
    const sections = (await report(e)).sections.map((s) => s.title);
    expect(sections.at(-1)).toBe("Jobs");

    // Never came within every + grace: failing, and saying so.
    await eventually(async () => (await item("backups"))?.severity === "fail", 15_000, "backups never reported in");
    expect((await item("backups"))!.detail).toMatch(/^never reported in: no beat in the \ds since it was first watched \(expected every 2s, grace 1s\)$/);

    // A plain GET, as curl in a crontab sends it: ok at once, not at the next cycle.
    const beat = await fetch(`${e.url}/api/v1/heartbeats/backups`);
    expect(beat.status).toBe(200);
    expect(await beat.json()).toMatchObject({ heartbeat: "backups", ok: true });
    await eventually(async () => (await item("backups"))?.severity === "ok", 5000, "backups ok after a beat");
    expect((await item("backups"))!.detail).toMatch(/^reported in \ds ago$/);
    const metrics = await (await fetch(`${e.url}/metrics`)).text();
    expect(metricValue(metrics, "hop3_heartbeat_last_timestamp_seconds", { heartbeat: "backups" })).toBeGreaterThan(Date.now() / 1000 - 60);

    // Late: every + grace after the last beat.
    await eventually(async () => (await item("backups"))?.severity === "fail", 15_000, "backups late");
    expect((await item("backups"))!).toMatchObject({ reason: "late", detail: expect.stringMatching(/^late: last beat \ds ago \(expected every 2s, grace 1s\)$/) as unknown });

    // A failure reported by the job, with what it says (one line, bounded).
    const failed = await fetch(`${e.url}/api/v1/heartbeats/backups?status=fail&message=${encodeURIComponent("pg_dump: disk full\nretrying")}`, { method: "POST" });
    expect(failed.status).toBe(200);
    await eventually(async () => (await item("backups"))?.detail.startsWith("reported a failure"), 5000, "the failure shown");
    expect((await item("backups"))!).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^reported a failure \ds ago: pg_dump: disk full retrying$/) as unknown });

    // Only configured ids, and only ok or fail.
    const unknown = await fetch(`${e.url}/api/v1/heartbeats/backup`, { method: "POST" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toBe('no heartbeat "backup" is configured (configured: backups, queue)');
    expect((await fetch(`${e.url}/api/v1/heartbeats/queue?status=maybe`, { method: "POST" })).status).toBe(400);

    // A restart forgets no beat; a one-shot status reads the same file.
    expect(await e.stop()).toBe(0);
    const status = await runCli(["--config", e.configFile, "status", "--json"]);
    expect(itemsOf(JSON.parse(status.stdout) as JsonReport)["heartbeat:backups"]).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^reported a failure \d+s ago: pg_dump: disk full retrying$/) as unknown });
    exporter = await startExporter({ root: e.root, config: JOBS });
    const again = exporter;
    await eventually(async () => itemsOf(await report(again))["heartbeat:backups"]?.detail.startsWith("reported a failure"), 15_000, "the failure remembered");
  });
});
