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

    // Without its token, even from this host, a job's beat is refused: any tenant's app runs here.
    const forged = await fetch(`${e.url}/api/v1/heartbeats/backups`, { method: "POST" });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: string }).error).toMatch(/^heartbeats without the job's token need authority: on this host, the hop3-health command/);
    // One job's token does not report for another.
    const backups = await e.pingUrl("backups");
    const queue = await e.pingUrl("queue");
    const stolen = await fetch(`${e.url}/api/v1/heartbeats/queue/${backups.split("/").at(-1)!}`, { method: "POST" });
    expect(stolen.status).toBe(403);
    expect(((await stolen.json()) as { error: string }).error).toBe("wrong token for heartbeat queue: its ping URL is shown by hop3-health heartbeats");
    // `hop3-health heartbeats` shows each job's ping URL.
    const shown = await runCli(["--config", e.configFile, "heartbeats"]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`backups  ${backups}\n`);
    expect(shown.stdout).toContain(`queue    ${queue}\n`);

    // A plain GET on its ping URL, as curl in a crontab sends it: ok at once, not at the next cycle.
    const beat = await fetch(backups);
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
    const failed = await fetch(`${backups}?status=fail&message=${encodeURIComponent("pg_dump: disk full\nretrying")}`, { method: "POST" });
    expect(failed.status).toBe(200);
    await eventually(async () => (await item("backups"))?.detail.startsWith("reported a failure"), 5000, "the failure shown");
    expect((await item("backups"))!).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^reported a failure \ds ago: pg_dump: disk full retrying$/) as unknown });

    // Only configured ids, and only ok or fail.
    const unknown = await e.operator("POST", "/api/v1/heartbeats/backup");
    expect(unknown.status).toBe(404);
    expect((unknown.body as { error: string }).error).toBe('no heartbeat "backup" is configured (configured: backups, queue)');
    expect((await fetch(`${queue}?status=maybe`, { method: "POST" })).status).toBe(400);

    // A restart forgets no beat; a one-shot status reads the same file.
    expect(await e.stop()).toBe(0);
    const status = await runCli(["--config", e.configFile, "status", "--json"]);
    expect(itemsOf(JSON.parse(status.stdout) as JsonReport)["heartbeat:backups"]).toMatchObject({ severity: "fail", detail: expect.stringMatching(/^reported a failure \d+s ago: pg_dump: disk full retrying$/) as unknown });
    exporter = await startExporter({ root: e.root, config: JOBS });
    const again = exporter;
    await eventually(async () => itemsOf(await report(again))["heartbeat:backups"]?.detail.startsWith("reported a failure"), 15_000, "the failure remembered");
  });
});

describe("maintenance windows", () => {
  it("keep a failing check running and shown, marked, published as hop3_health_maintenance, across a restart, until they end", async () => {
    // A disk over any threshold: failing.
    const failingDisk = "[checks.disk-usage]\nwarn_percent = 0.01\nfail_percent = 0.02\n";
    exporter = await startExporter({ config: failingDisk });
    const e = exporter;
    const cli = (...args: string[]) => runCli(["--config", e.configFile, "maintenance", ...args]);
    const maintained = async (server: RunningExporter) => metricValue(await (await fetch(`${server.url}/metrics`)).text(), "hop3_health_maintenance", { check: "disk-usage" });
    await eventually(async () => (await maintained(e)) === 0, 15_000, "disk-usage published, not in maintenance");

    const started = await cli("start", "disk-usage", "--for", "30m", "--reason", "resizing the volume");
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/^disk-usage in maintenance for 30m, until \d{4}-\d\d-\d\d \d\d:\d\d UTC: resizing the volume\n$/);
    await eventually(async () => (await maintained(e)) === 1, 15_000, "hop3_health_maintenance 1");
    const item = itemsOf(await report(e))["disk-usage"]!;
    expect(item.severity).toBe("fail");
    expect(item.maintenance).toMatchObject({ reason: "resizing the volume" });
    const text = await runCli(["--config", e.configFile, "status"]);
    expect(text.stdout).toMatch(/Disk usage +✗ .* \[in maintenance until \d{4}-\d\d-\d\d \d\d:\d\d UTC: resizing the volume\]\n/);
    expect((await cli("list")).stdout).toMatch(/^disk-usage {2}until .* UTC {2}resizing the volume\n$/);

    // Bad input: an unknown check, a duration that is not one.
    expect(await cli("start", "disk-usag", "--for", "30m")).toMatchObject({ code: 3, stderr: "hop3-health: no check disk-usag on this server — did you mean disk-usage?\n" });
    expect((await cli("start", "disk-usage", "--for", "soon")).code).toBe(3);

    // A restart keeps it.
    expect(await e.stop()).toBe(0);
    exporter = await startExporter({ root: e.root, config: failingDisk });
    const again = exporter;
    await eventually(async () => (await maintained(again)) === 1, 15_000, "still in maintenance after a restart");

    // The API ends it; one opened for three seconds ends by itself.
    // Over HTTP with no basic auth, from this host too, a window is refused: it is the operator's.
    const fromHttp = await fetch(`${again.url}/api/v1/maintenance`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ check: "disk-usage", end: true }) });
    expect(fromHttp.status).toBe(403);
    const post = (body: unknown) => again.operator("POST", "/api/v1/maintenance", body);
    expect((await post({ check: "disk-usage", end: true })).body).toEqual({ check: "disk-usage", ended: true });
    await eventually(async () => (await maintained(again)) === 0, 15_000, "maintenance ended");
    expect((await post({ check: "disk-usag", for_seconds: 60 })).status).toBe(404);
    expect((await post({ check: "disk-usage" })).status).toBe(400);
    expect((await post({ check: "disk-usage", for_seconds: 3, reason: "a blip" })).status).toBe(200);
    await eventually(async () => (await maintained(again)) === 1, 3000, "a three-second window");
    await eventually(async () => (await maintained(again)) === 0, 15_000, "the window ended by itself");
    expect((await (await fetch(`${again.url}/api/v1/maintenance`)).json())).toEqual({ windows: [], recurring: [] });
  });
});
