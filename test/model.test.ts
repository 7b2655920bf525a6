import { describe, expect, it } from "vitest";
import { derivedSeverity, isPlugin, severityValue, worstSeverity } from "../src/health/model.js";
import { makeRedactor, redactDeep } from "../src/health/redact.js";

describe("severity", () => {
  it("orders ok < warn < fail, as 0, 1, 2", () => {
    expect([severityValue("ok"), severityValue("warn"), severityValue("fail")]).toEqual([0, 1, 2]);
  });

  it("takes the worst of a list, and ok of an empty one", () => {
    expect(worstSeverity([])).toBe("ok");
    expect(worstSeverity(["ok", "warn", "ok"])).toBe("warn");
    expect(worstSeverity(["warn", "fail", "ok"])).toBe("fail");
    expect(worstSeverity(new Set(["ok" as const]))).toBe("ok");
  });

  it("derives severity from passed unless one is set", () => {
    expect(derivedSeverity({ passed: true })).toBe("ok");
    expect(derivedSeverity({ passed: false })).toBe("fail");
    expect(derivedSeverity({ passed: false, severity: "warn" })).toBe("warn");
    expect(derivedSeverity({ passed: true, severity: "warn" })).toBe("warn");
  });
});

describe("plugins", () => {
  it("recognises a plugin by its name and getHealthChecks()", () => {
    expect(isPlugin({ name: "x", getHealthChecks: () => [] })).toBe(true);
    expect(isPlugin({ name: "x" })).toBe(false);
    expect(isPlugin(null)).toBe(false);
  });
});

describe("redaction", () => {
  it("masks URL passwords and configured secrets, deep inside details", () => {
    const redact = makeRedactor(["hunter22"]);
    expect(redact("connect postgres://app:pa55word@db:5432/x failed")).toBe("connect postgres://app:***@db:5432/x failed");
    expect(redact("secret is hunter22!")).toBe("secret is ***!");
    expect(redactDeep({ a: ["key hunter22"], b: { c: "redis://:pw@h:1" }, n: 3 }, redact)).toEqual({
      a: ["key ***"],
      b: { c: "redis://:***@h:1" },
      n: 3,
    });
  });
});
