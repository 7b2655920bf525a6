// Each check's history from the event log: uptime exactly from the transitions (time at ok ÷ time
// observed, maintenance excluded), the last 24 hours as 48 half-hour bars, since when a check is at
// its severity, and what is not known (before the log, events dropped) left out.

import { describe, expect, it } from "vitest";
import type { HealthEvent } from "../src/engine/events.js";
import { histories, lasted } from "../src/report/history.js";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const HOUR = 3_600_000;
const at = (hoursAgo: number): string => new Date(NOW - hoursAgo * HOUR).toISOString();
const transition = (check: string, hoursAgo: number, from: string | null, to: string): HealthEvent => ({ time: at(hoursAgo), kind: "transition", check, from: from as never, to: to as never, message: "" });

describe("check history", () => {
  it("computes uptime exactly from the transitions, over 24 hours and 7 days", () => {
    const events = [
      transition("db", 200, null, "ok"),
      // Failing for 3 hours two days ago, and for 90 minutes this morning.
      transition("db", 50, "ok", "fail"),
      transition("db", 47, "fail", "ok"),
      transition("db", 6, "ok", "fail"),
      transition("db", 4.5, "fail", "ok"),
    ];
    const db = histories({ events, origin: null, trimmed: false }, new Map([["db", "ok"]]), NOW).get("db")!;
    expect(db.uptime_24h).toBeCloseTo((24 - 1.5) / 24, 6);
    expect(db.uptime_7d).toBeCloseTo((168 - 4.5) / 168, 6);
    expect(db.since).toBe(at(4.5));
    // The bars: 48 half hours, oldest first; the failure from 6 h to 4.5 h ago is bars 36 to 38.
    expect(db.bars).toHaveLength(48);
    expect(db.bars.map((b, i) => [i, b]).filter(([, b]) => b !== "ok")).toEqual([
      [36, "fail"],
      [37, "fail"],
      [38, "fail"],
    ]);
  });

  it("leaves maintenance out of the time observed, and shows a half hour spent in it", () => {
    const events: HealthEvent[] = [
      transition("app:shop", 30, null, "ok"),
      transition("app:shop", 10, "ok", "fail"),
      { time: at(10), kind: "maintenance", check: "app:shop", state: "start", message: "" },
      transition("app:shop", 8, "fail", "ok"),
      { time: at(8), kind: "maintenance", check: "app:shop", state: "end", message: "" },
      transition("app:shop", 2, "ok", "warn"),
    ];
    const shop = histories({ events, origin: null, trimmed: false }, new Map([["app:shop", "warn"]]), NOW).get("app:shop")!;
    // 24 h observed, 2 of them in maintenance: 22 h counted, of which the last 2 at warn.
    expect(shop.uptime_24h).toBeCloseTo(20 / 22, 6);
    expect(shop.bars[28]).toBe("maintenance");
    expect(shop.bars.slice(44)).toEqual(["warn", "warn", "warn", "warn"]);
    expect(shop.since).toBe(at(2));
  });

  it("ends a window at its until when no end was logged (the exporter was down then), and follows an extension", () => {
    const events: HealthEvent[] = [
      transition("redis", 30, null, "fail"),
      { time: at(20), kind: "maintenance", check: "redis", state: "start", until: at(18), message: "" },
      // Extended before it ended: until 16 h ago. No end event follows.
      { time: at(19), kind: "maintenance", check: "redis", state: "start", until: at(16), message: "" },
    ];
    const redis = histories({ events, origin: null, trimmed: false }, new Map([["redis", "fail"]]), NOW).get("redis")!;
    // 20 h to 16 h ago in maintenance: bars 8 to 15; failing before and after.
    expect(redis.bars.slice(8, 16)).toEqual(Array(8).fill("maintenance"));
    expect(redis.bars[7]).toBe("fail");
    expect(redis.bars[16]).toBe("fail");
    expect(redis.uptime_24h).toBe(0);
  });

  it("observes a check from the snapshot that starts the log, and says nothing of the time before", () => {
    const origin = { time: at(12), severities: { disk: "ok" as const } };
    const disk = histories({ events: [], origin, trimmed: false }, new Map([["disk", "ok"]]), NOW).get("disk")!;
    expect(disk.uptime_24h).toBe(1);
    expect(disk.uptime_7d).toBe(1);
    expect(disk.bars.slice(0, 24)).toEqual(Array(24).fill(null));
    expect(disk.bars.slice(24)).toEqual(Array(24).fill("ok"));
    // Observed for 12 hours: the page says "since", not "over 24 h".
    expect(disk.observed_since).toBe(at(12));
    // A check the log has never seen: no figures rather than made-up ones.
    const fresh = histories({ events: [], origin, trimmed: false }, new Map([["redis", "fail"]]), NOW).get("redis")!;
    expect(fresh).toEqual({ since: null, uptime_24h: null, uptime_7d: null, bars: Array(48).fill(null), observed_since: null });
  });

  it("where older events were dropped, knows a check's state before its first kept change from then on", () => {
    const events = [transition("nginx", 20, null, "ok"), transition("mysql", 10, "warn", "ok")];
    const mysql = histories({ events, origin: null, trimmed: true }, new Map([["mysql", "ok"]]), NOW).get("mysql")!;
    // Observed from the first kept event (20 h ago): warn for 10 h, then ok for 10 h.
    expect(mysql.uptime_24h).toBeCloseTo(0.5, 6);
    expect(mysql.since).toBe(at(10));
  });

  it("says how long a state has lasted in its two largest units", () => {
    expect(lasted((3 * 3600 + 12 * 60 + 5) * 1000)).toBe("3h 12m");
    expect(lasted((2 * 86_400 + 4 * 3600) * 1000)).toBe("2d 4h");
    expect(lasted(45_000)).toBe("45s");
    expect(lasted(3_600_000)).toBe("1h");
  });
});
