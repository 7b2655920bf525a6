// The restart policy's decisions, driven by app outcomes as the checks publish them, on a clock the
// test moves: which failures restart, the backoff, the cap, the healthy periods that reset them,
// dry run, and [restart] command with its argv. (The real-uWSGI story is in restarts.e2e.test.ts.)

import { readFile, writeFile, chmod } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configSchema } from "../src/config/schema.js";
import type { HealthEvent } from "../src/engine/events.js";
import { RestartPolicies, type RestartOptions, type RestartPolicyName } from "../src/engine/restarts.js";
import type { CheckOutcome } from "../src/health/outcome.js";
import { createLogger } from "../src/lib/logger.js";
import { tempDir } from "./helpers/cli.js";

function outcome(app: string, severity: "ok" | "fail", reason?: string, state = "running"): CheckOutcome {
  return {
    check: `app:${app}`,
    name: app,
    section: "Apps",
    severity,
    passed: severity === "ok",
    detail: severity === "ok" ? "answered HTTP 200 at /health" : `failing (${reason ?? "error"})`,
    details: { state, ...(reason ? { reason } : {}) },
    measurements: [],
    durationSeconds: 0,
    finishedAt: new Date(),
  };
}

describe("restart policies", () => {
  let events: HealthEvent[];
  let dir: string;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    vi.setSystemTime(new Date("2026-12-03T12:00:00Z"));
    events = [];
    dir = tempDir("hop3-restarts-unit-");
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function policies(restart: Record<string, unknown>, perApp: Record<string, RestartPolicyName> = {}): Promise<RestartPolicies> {
    // A command that notes each call: the argv it got.
    const script = path.join(dir, "restart-app");
    await writeFile(script, `#!/bin/sh\necho "$@" >> ${dir}/calls\n`);
    await chmod(script, 0o755);
    const settings = configSchema.parse({ restart: { command: [script, "--app", "{app}"], ...restart } }).restart;
    const options: RestartOptions = {
      settings,
      perApp: (app) => perApp[app],
      hop3Root: dir,
      logger: createLogger({ level: "silent", fd: 2, redact: (t) => t }),
      acts: true,
      apps: () => Promise.resolve(Object.keys(perApp)),
      record: (list) => events.push(...list),
      recheck: () => undefined,
    };
    return new RestartPolicies(options);
  }
  const calls = async (): Promise<string[]> => (await readFile(path.join(dir, "calls"), "utf8").catch(() => "")).split("\n").filter(Boolean);
  const advance = (seconds: number): void => void vi.setSystemTime(Date.now() + seconds * 1000);
  const inNoMaintenance = (): boolean => false;

  it("on-failure: restarts after failures_before_restart, backs off 10, 20, 40 s, judges each try, and gives up at the cap", async () => {
    const p = await policies({ policy: "on-failure", max_restarts: 3 });
    const fail = (): CheckOutcome => outcome("shop", "fail", "not_running");
    await p.observe([fail()], inNoMaintenance);
    expect(await calls()).toEqual([]);
    const second = fail();
    await p.observe([second], inNoMaintenance);
    expect(await calls()).toEqual(["--app shop"]);
    expect(second.detail).toBe("failing (not_running) — restarted 1× by policy, next try in 10 s");
    expect(second.details.restarts).toEqual({ policy: "on-failure", restarts: 1, next_in_seconds: 10, gave_up: false, dry_run: false });
    // Before the delay: nothing more.
    advance(5);
    await p.observe([fail()], inNoMaintenance);
    expect(await calls()).toHaveLength(1);
    advance(5);
    await p.observe([fail()], inNoMaintenance);
    advance(20);
    await p.observe([fail()], inNoMaintenance);
    expect(await calls()).toHaveLength(3);
    expect(events.filter((e) => e.state === "restarted").map((e) => e.next_delay_seconds)).toEqual([10, 20, 40]);
    advance(40);
    const last = fail();
    await p.observe([last], inNoMaintenance);
    expect(await calls()).toHaveLength(3);
    expect(events.filter((e) => e.result !== undefined).map((e) => e.result)).toEqual(["failing", "failing", "gave_up"]);
    expect(last).toMatchObject({ reason: "gave_up", detail: "gave up after 3 restarts in 1 h: last failure failing (not_running)" });
    expect(p.series()).toEqual([{ app: "shop", totals: { recovered: 0, failing: 2, gave_up: 1 }, gaveUp: true }]);
    // Given up: no more tries, until healthy for the window (1 h)…
    advance(600);
    await p.observe([fail()], inNoMaintenance);
    expect(await calls()).toHaveLength(3);
    await p.observe([outcome("shop", "ok")], inNoMaintenance);
    advance(3600);
    await p.observe([outcome("shop", "ok")], inNoMaintenance);
    expect(p.series()[0]!.gaveUp).toBe(false);
    // …and then from a fresh backoff.
    await p.observe([fail()], inNoMaintenance);
    await p.observe([fail()], inNoMaintenance);
    expect(events.filter((e) => e.state === "restarted").at(-1)?.next_delay_seconds).toBe(10);
  });

  it("a recovery is counted, and the backoff starts over once the app stayed healthy for backoff_max", async () => {
    const p = await policies({ policy: "on-failure", failures_before_restart: 1, backoff_max: "1m" });
    await p.observe([outcome("blog", "fail", "http_status")], inNoMaintenance);
    advance(10);
    await p.observe([outcome("blog", "ok")], inNoMaintenance);
    expect(events.at(-1)).toMatchObject({ kind: "restart", result: "recovered", attempt: 1, message: "recovered after restart 1" });
    // Down again at once: the next delay is doubled.
    await p.observe([outcome("blog", "fail", "http_status")], inNoMaintenance);
    expect(events.at(-1)).toMatchObject({ state: "restarted", next_delay_seconds: 20 });
    advance(20);
    await p.observe([outcome("blog", "ok")], inNoMaintenance);
    advance(60);
    await p.observe([outcome("blog", "ok")], inNoMaintenance);
    await p.observe([outcome("blog", "fail", "http_status")], inNoMaintenance);
    expect(events.at(-1)).toMatchObject({ state: "restarted", next_delay_seconds: 10 });
  });

  it("never restarts what a restart cannot mend or must not touch; a crash loop only under always", async () => {
    const p = await policies({ policy: "on-failure", failures_before_restart: 1 }, { looping: "always", quiet: "never" });
    for (let i = 0; i < 3; i++) {
      await p.observe(
        [
          outcome("manifest", "fail", "config"),
          outcome("denied", "fail", "permission"),
          outcome("stopped", "ok", undefined, "stopped"),
          outcome("deploying", "fail", "http_status", "deploying"),
          outcome("maintained", "fail", "not_running"),
          outcome("quiet", "fail", "not_running"),
          outcome("loop-on-failure", "fail", "crash_loop", "crash_loop"),
          outcome("looping", "fail", "crash_loop", "crash_loop"),
        ],
        (check) => check === "app:maintained",
      );
      advance(60);
    }
    expect(await calls()).toEqual(["--app looping", "--app looping", "--app looping"]);
  });

  it("dry run logs and counts what it would do, and runs nothing", async () => {
    const p = await policies({ policy: "always", failures_before_restart: 1, dry_run: true });
    const first = outcome("shop", "fail", "refused");
    await p.observe([first], inNoMaintenance);
    expect(first.detail).toBe("failing (refused) — restarted 1× by policy, next try in 10 s (dry run)");
    advance(10);
    await p.observe([outcome("shop", "fail", "refused")], inNoMaintenance);
    expect(await calls()).toEqual([]);
    expect(events.filter((e) => e.state === "restarted")).toHaveLength(2);
    expect(events.every((e) => e.dry_run === true)).toBe(true);
    expect(events[0]!.message).toMatch(/; dry run: nothing done; next try in 10 s$/);
    expect(p.series()[0]!.totals.failing).toBe(1);
  });
});
