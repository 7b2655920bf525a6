import { describe, expect, it } from "vitest";
import type { CheckSettings, HealthCheck, HealthCheckResult } from "../src/health/model.js";
import { configSchema } from "../src/config/schema.js";
import { runCycle, type RunnerOptions } from "../src/engine/runner.js";
import { limiter } from "../src/lib/limit.js";

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Error("aborted"));
    });
  });

function check(id: string, run: (signal: AbortSignal) => Promise<HealthCheckResult>, extra: Partial<HealthCheck> = {}): HealthCheck {
  return { id, name: id.toUpperCase(), section: "Services", isConfigured: () => true, check: run, ...extra };
}

const passing = (id: string, ms = 0): HealthCheck =>
  check(id, async (signal) => {
    await sleep(ms, signal);
    return { name: id, passed: true, message: "fine" };
  });

function options(settings: Record<string, Partial<CheckSettings>> = {}, extra: Partial<RunnerOptions> = {}): RunnerOptions {
  return {
    concurrency: 16,
    defaultTimeoutSeconds: 0.3,
    settingsFor: (id) => ({ enabled: true, ...settings[id] }),
    ...extra,
  };
}

describe("runner", () => {
  it("turns a throw, a rejection and a malformed result into failures that say what happened", async () => {
    const cycle = await runCycle(
      [
        check("throws", () => {
          throw new Error("boom");
        }),
        check("rejects", () => Promise.reject(new Error("no route"))),
        check("rejects-string", () => Promise.reject(new Error("plain"))),
        check("malformed", () => Promise.resolve({ name: "x", passed: "yes", message: "?" } as unknown as HealthCheckResult)),
        check("not-object", () => Promise.resolve(42 as unknown as HealthCheckResult)),
        check("bad-severity", () => Promise.resolve({ name: "x", passed: false, message: "m", severity: "critical" } as unknown as HealthCheckResult)),
        check("bad-measurement", () => Promise.resolve({ name: "x", passed: true, message: "m", measurements: [{ name: "bad name", value: 1 }] })),
        check("bad-perf", () =>
          Promise.resolve({ name: "x", passed: true, message: "m", measurements: [{ name: "queue_depth", value: 1, perf: { label: "it's=bad", unit: "%" as const } }] }),
        ),
        passing("fine"),
      ],
      options(),
    );
    const byId = Object.fromEntries(cycle.outcomes.map((o) => [o.check, o]));
    expect(byId.throws).toMatchObject({ severity: "fail", passed: false, detail: "check raised: boom" });
    expect(byId.rejects).toMatchObject({ severity: "fail", detail: "check raised: no route" });
    expect(byId.malformed?.detail).toBe('check returned a malformed result: "passed" must be a boolean, got "yes"');
    expect(byId["not-object"]?.detail).toBe("check returned a malformed result: expected an object, got 42");
    expect(byId["bad-severity"]?.detail).toMatch(/"severity" must be "ok", "warn" or "fail", got "critical"/);
    expect(byId["bad-measurement"]?.detail).toMatch(/measurement name "bad name" is not a metric name/);
    // Nagios performance data: a label with ' or = would break the line Nagios parses.
    expect(byId["bad-perf"]?.detail).toBe("check returned a malformed result: measurement queue_depth: perf needs a label without ' or =");
    expect(byId.fine).toMatchObject({ severity: "ok", passed: true, detail: "fine", section: "Services", name: "FINE" });
  });

  it("times out a check that never settles, aborts its signal, and does not hold the others back", async () => {
    let abortedWith: unknown;
    const hanging = check("hangs", (signal) => {
      signal.addEventListener("abort", () => {
        abortedWith = signal.reason as unknown;
      });
      return new Promise<never>(() => undefined);
    });
    const cycle = await runCycle([hanging, passing("quick", 10), passing("quick2", 20)], options({ hangs: { timeout: 0.25 } }));
    const byId = Object.fromEntries(cycle.outcomes.map((o) => [o.check, o]));
    expect(byId.hangs).toMatchObject({ severity: "fail", detail: "timed out after 0.25s" });
    expect(abortedWith).toBeInstanceOf(Error);
    expect(byId.quick?.severity).toBe("ok");
    expect(byId.quick!.finishedAt.getTime()).toBeLessThan(byId.hangs!.finishedAt.getTime());
    expect(byId.hangs!.durationSeconds).toBeGreaterThanOrEqual(0.24);
  });

  it("uses severity_on_failure, then the check's own default, for failures", async () => {
    const failing = (id: string, extra: Partial<HealthCheck> = {}): HealthCheck =>
      check(id, () => Promise.resolve({ name: id, passed: false, message: "down" }), extra);
    const cycle = await runCycle(
      [
        failing("plain"),
        failing("softened"),
        check("optional-hang", () => new Promise<never>(() => undefined), { severityOnFailure: "warn" }),
        check("optional-but-strict", () => Promise.resolve({ name: "x", passed: false, message: "down", severity: "warn" })),
      ],
      options({ softened: { severity_on_failure: "warn" }, "optional-hang": { timeout: 0.05 }, "optional-but-strict": { severity_on_failure: "fail" } }),
    );
    const severity = Object.fromEntries(cycle.outcomes.map((o) => [o.check, o.severity]));
    expect(severity).toEqual({ plain: "fail", softened: "warn", "optional-hang": "warn", "optional-but-strict": "fail" });
  });

  it("skips a check that is not configured or disabled, and fails one whose isConfigured() breaks", async () => {
    const cycle = await runCycle(
      [
        check("unconfigured", () => Promise.reject(new Error("must not run")), { isConfigured: () => Promise.resolve(false) }),
        passing("disabled"),
        check("odd", () => Promise.resolve({ name: "x", passed: true, message: "" }), { isConfigured: () => "yes" as unknown as boolean }),
        check("raising", () => Promise.resolve({ name: "x", passed: true, message: "" }), {
          isConfigured: () => {
            throw new Error("cannot tell");
          },
        }),
        check("slow-to-say", () => Promise.resolve({ name: "x", passed: true, message: "" }), { isConfigured: () => new Promise<boolean>(() => undefined) }),
      ],
      options({ disabled: { enabled: false }, "slow-to-say": { timeout: 0.05 } }),
    );
    expect(cycle.skipped.map((s) => s.check).sort()).toEqual(["disabled", "unconfigured"]);
    const detail = Object.fromEntries(cycle.outcomes.map((o) => [o.check, o.detail]));
    expect(detail).toEqual({
      odd: 'isConfigured() returned "yes", not a boolean',
      raising: "check raised: cannot tell",
      "slow-to-say": "timed out after 0.05s deciding whether it is configured",
    });
  });

  it("never runs more checks at once than the bound", async () => {
    let running = 0;
    let peak = 0;
    const counted = (id: string): HealthCheck =>
      check(id, async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(15);
        running--;
        return { name: id, passed: true, message: "" };
      });
    const checks = Array.from({ length: 20 }, (_, i) => counted(`c${i}`));
    const cycle = await runCycle(checks, options({}, { concurrency: 3 }));
    expect(cycle.outcomes).toHaveLength(20);
    expect(peak).toBe(3);
  });

  it("starts every check at once at the default settings: 300 that each wait for all the others all pass", async () => {
    let started = 0;
    let allStarted!: () => void;
    const gate = new Promise<void>((resolve) => (allStarted = resolve));
    const waiting = (id: string): HealthCheck =>
      check(id, async () => {
        if (++started === 300) allStarted();
        await gate;
        return { name: id, passed: true, message: "all in" };
      });
    const checks = Array.from({ length: 300 }, (_, i) => waiting(`w${i}`));
    // Under any bound below 300, the first ones would wait for checks that never start, and time out.
    const cycle = await runCycle(checks, options({}, { concurrency: configSchema.parse({}).concurrency, defaultTimeoutSeconds: 5 }));
    expect(cycle.outcomes.filter((o) => o.severity === "ok")).toHaveLength(300);
  });

  it("runs checks side by side: every check has started before the first one ends", async () => {
    const started: number[] = [];
    const ended: number[] = [];
    const timed = (id: string, ms: number): HealthCheck =>
      check(id, async () => {
        started.push(performance.now());
        await sleep(ms);
        ended.push(performance.now());
        return { name: id, passed: true, message: "" };
      });
    const checks = Array.from({ length: 10 }, (_, i) => timed(`t${i}`, 40 + i * 5));
    const cycle = await runCycle(checks, options({}, { concurrency: 10 }));
    expect(Math.max(...started)).toBeLessThan(Math.min(...ended));
    // So the cycle lasts as long as its slowest check, not the sum of all of them.
    const slowest = Math.max(...cycle.outcomes.map((o) => o.durationSeconds));
    const cycleSeconds = (cycle.finishedAt.getTime() - cycle.startedAt.getTime()) / 1000;
    const sum = cycle.outcomes.reduce((total, o) => total + o.durationSeconds, 0);
    expect(cycleSeconds).toBeLessThan(sum);
    expect(slowest).toBeGreaterThan(0.08);
  });

  it("reports a check aborted by shutdown as such", async () => {
    const controller = new AbortController();
    const pending = runCycle([check("long", (signal) => sleep(10_000, signal).then(() => ({ name: "x", passed: true, message: "" })))], options({ long: { timeout: 30 } }, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    const cycle = await pending;
    expect(cycle.outcomes[0]?.detail).toBe("aborted: the exporter is shutting down");
  });

  it("masks secrets in messages and details", async () => {
    const leaky = check("leaky", () =>
      Promise.resolve({ name: "x", passed: false, message: "cannot reach postgres://u:topsecret@db/x", details: { url: "postgres://u:topsecret@db/x" } }),
    );
    const cycle = await runCycle([leaky], options({}, { redact: (t) => t.replaceAll("topsecret", "***") }));
    expect(JSON.stringify(cycle.outcomes)).not.toContain("topsecret");
  });
});

describe("bounds on what costs", () => {
  it("hands a freed slot to the first in line, and lets a waiter whose deadline passes leave the line", async () => {
    const limit = limiter(1);
    const order: string[] = [];
    let release!: () => void;
    const first = limit(() => new Promise<void>((resolve) => (release = resolve)).then(() => order.push("first")));
    const patience = new AbortController();
    const impatient = limit(() => Promise.resolve(order.push("impatient")), patience.signal);
    const second = limit(() => Promise.resolve(order.push("second")));
    patience.abort(new Error("timed out after 1s"));
    await expect(impatient).rejects.toThrow("timed out after 1s");
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first", "second"]);
  });

  it("keeps a server from a herd: 12 checks of one server hold at most connections_per_server connections, and all pass", async () => {
    const { makeHop3Root, runCli, itemsOf, tempDir } = await import("./helpers/cli.js");
    const net = await import("node:net");
    const { writeFile } = await import("node:fs/promises");
    const path = await import("node:path");
    let open = 0;
    let peak = 0;
    const server = net.createServer((socket) => {
      // Counted from accept to answer: the client's slot ends with the answer, and the close that
      // follows it may reach this side after the next connection does.
      peak = Math.max(peak, ++open);
      socket.on("error", () => undefined);
      setTimeout(() => {
        open--;
        socket.end("hello\n");
      }, 100);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as import("node:net").AddressInfo).port;
    const pluginDir = tempDir("hop3-health-herd-");
    await writeFile(
      path.join(pluginDir, "herd.mjs"),
      `import net from "node:net";
export default {
  name: "herd",
  getHealthChecks: (ctx) => Array.from({ length: 12 }, (_, i) => ({
    id: "herd-" + i, name: "Herd " + i, section: "Backing services", isConfigured: () => true,
    check: (signal) => ctx.withServer("127.0.0.1:${port}", () => new Promise((resolve, reject) => {
      const socket = net.connect(${port}, "127.0.0.1");
      socket.once("data", () => { socket.destroy(); resolve({ name: "Herd " + i, passed: true, message: "answered" }); });
      socket.once("error", reject);
    }), signal),
  })),
};
`,
    );
    try {
      for (const [config, bound] of [["", 4], ["connections_per_server = 2\n", 2]] as const) {
        peak = 0;
        const { configFile } = await makeHop3Root(`${config}plugins = ["${pluginDir}"]`);
        const result = await runCli(["--config", configFile, "status", "--json"]);
        const items = itemsOf(JSON.parse(result.stdout) as Parameters<typeof itemsOf>[0]);
        const herd = Object.values(items).filter((item) => item.check.startsWith("herd-"));
        expect(herd.map((item) => item.severity)).toEqual(Array(12).fill("ok"));
        expect(peak).toBe(bound);
      }
    } finally {
      server.close();
    }
  });
});
