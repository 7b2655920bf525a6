// The status page as a wall, in Debian's Chromium (headless, driven by playwright-core): a server
// with ok, warn and fail checks, a check that flapped all night (from an event log laid out as a
// week of running left it) and an app in the Apps section. Screenshots at 1920×1080 dark, 1280×800
// light and 390×844 go to test-artifacts/status-page/ (not in the repository); a 4K wall is checked too.

import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, tempDir } from "./helpers/cli.js";
import { controllablePlugin, eventually, startExporter, type RunningExporter } from "./helpers/exporter.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.join(REPO, "test-artifacts/status-page");
const HOUR = 3_600_000;

let browser: Browser;
let exporter: RunningExporter;
let plugin: string;
const stops: Array<() => Promise<unknown>> = [];

/** The event log a week of running left: every check ok from a week ago; ctl-off flapping every 2 h for the last 20 h. */
function seededLog(now: number): string {
  const at = (hoursAgo: number): string => new Date(now - hoursAgo * HOUR).toISOString();
  const lines: object[] = [{ time: at(168), kind: "snapshot", check: "*", message: "severities when this file was started", severities: { "ctl-one": "ok", "ctl-two": "ok", "ctl-three": "ok", "ctl-off": "ok" } }];
  for (let h = 20; h > 0; h -= 2) {
    lines.push({ time: at(h), kind: "transition", check: "ctl-off", name: "Controlled off", section: "Apps", from: "ok", to: "fail", message: "refused" });
    lines.push({ time: at(h - 1), kind: "transition", check: "ctl-off", name: "Controlled off", section: "Apps", from: "fail", to: "ok", message: "ok" });
  }
  return lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking"] });
  plugin = await controllablePlugin();
  await writeFile(path.join(plugin, "two.severity"), "warn");
  await writeFile(path.join(plugin, "two.message"), "queue backlog of 1,204 jobs");
  await writeFile(path.join(plugin, "three.severity"), "fail");
  await writeFile(path.join(plugin, "three.message"), "connection refused at 10.0.3.9:5432");
  // An app, served by this process, watched at its [apps.web] port.
  const app = http.createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => app.listen(0, "127.0.0.1", resolve));
  stops.push(() => new Promise((resolve) => app.close(resolve)));
  const root = tempDir();
  await mkdir(path.join(root, "apps/web/src"), { recursive: true });
  await writeFile(path.join(root, "apps/web/src/hop3.toml"), '[healthcheck]\npath = "/health"\n');
  // The event log in the state directory the test exporter is given (beside the root).
  await mkdir(`${root}.state`, { recursive: true, mode: 0o750 });
  await writeFile(path.join(`${root}.state`, "events.jsonl"), seededLog(Date.now()));
  exporter = await startExporter({ root, config: `plugins = ["${plugin}"]\n[apps.web]\nport = ${(app.address() as net.AddressInfo).port}\n` });
  stops.push(() => exporter.stop("SIGKILL"));
  await eventually(async () => (await fetch(`${exporter.url}/-/ready`)).ok, 15_000, "the first cycle");
  await mkdir(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser.close();
  for (const stop of stops.reverse()) await stop();
});

async function open(width: number, height: number, query = "", options: { dark?: boolean; javaScript?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: options.dark ? "dark" : "light", javaScriptEnabled: options.javaScript ?? true });
  stops.push(() => context.close());
  const page = await context.newPage();
  await page.goto(`${exporter.url}/${query}`);
  return page;
}

// What runs in the page is given as source: this project's types have no DOM.

/** An expression's value in the page. */
function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate<T>(expression);
}

/** The WCAG contrast ratio of an element's text against the background it sits on. */
function contrast(page: Page, selector: string): Promise<number> {
  return inPage<number>(
    page,
    `(() => {
      const element = document.querySelector(${JSON.stringify(selector)});
      const rgb = (css) => (css.match(/[\\d.]+/g) ?? []).slice(0, 3).map(Number);
      const luminance = (channels) => {
        const [r, g, b] = channels.map((c) => { const v = c / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      let node = element;
      let background = "rgba(0, 0, 0, 0)";
      while (node && (background === "rgba(0, 0, 0, 0)" || background === "transparent")) {
        background = getComputedStyle(node).backgroundColor;
        node = node.parentElement;
      }
      const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(rgb(background))];
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    })()`,
  );
}

const background = (page: Page): Promise<string> => inPage(page, "getComputedStyle(document.documentElement).backgroundColor");
/** A number of each element's bounding box, for every element the selector finds. */
const boxes = (page: Page, selector: string, side: "top" | "left"): Promise<number[]> =>
  inPage(page, `[...document.querySelectorAll(${JSON.stringify(selector)})].map((e) => Math.round(e.getBoundingClientRect().${side}))`);

describe("the status page in a browser", () => {
  it("is a wall at 1920×1080 in the dark theme: banner on top, a tile per check, history and uptime", async () => {
    const page = await open(1920, 1080, "?theme=dark");
    // The overall status first, in words as well as colour; the identity under it.
    const banner = page.locator("header#banner");
    await expect(banner.locator(".overall").innerText()).resolves.toBe("✗ 1 failure, 1 warning");
    await expect(banner.getAttribute("class")).resolves.toBe("fail");
    // It names what is wrong, failures first.
    const named = (await (await fetch(`${exporter.url}/status`)).json()) as { sections: Array<{ items: Array<{ check: string; name: string }> }> };
    const nameOf = (check: string): string => named.sections.flatMap((s) => s.items).find((i) => i.check === check)!.name;
    await expect(banner.locator(".attention").innerText()).resolves.toBe(`✗ ${nameOf("ctl-three")} · ⚠ ${nameOf("ctl-two")}`);
    await expect(banner.locator(".identity").innerText()).resolves.toContain("Hop3 server: exporter-test (203.0.113.9)");
    const bannerBox = (await banner.boundingBox())!;
    expect(bannerBox.y).toBe(0);
    expect(bannerBox.width).toBe(1920);

    // One tile per check of the report: the Apps section holds the plugin's three and ctl-off, and the app.
    const report = (await (await fetch(`${exporter.url}/status`)).json()) as { sections: Array<{ title: string; items: Array<{ check: string }> }> };
    const checks = report.sections.flatMap((s) => s.items.map((i) => i.check));
    await expect(page.locator("li.tile").count()).resolves.toBe(checks.length);
    expect(checks).toEqual(expect.arrayContaining(["ctl-one", "ctl-two", "ctl-three", "ctl-off", "app:web"]));
    const tile = (check: string) => page.locator(`li.tile[data-check="${check}"]`);
    await expect(tile("ctl-three").locator(".state").innerText()).resolves.toBe("✗ failing");
    await expect(tile("ctl-two").locator(".state").innerText()).resolves.toBe("⚠ warning");
    await expect(tile("app:web").locator(".state").innerText()).resolves.toBe("✓ ok");
    await expect(tile("ctl-three").locator(".detail").innerText()).resolves.toBe("connection refused at 10.0.3.9:5432");
    await expect(tile("ctl-three").locator(".since").innerText()).resolves.toMatch(/^failing for \d+s$/);
    // A week ok until now: the log's snapshot says so.
    await expect(tile("ctl-one").locator(".since").innerText()).resolves.toMatch(/^ok for 7d( \d+m)?$/);

    // Every tile has 48 half-hour bars; the flapping check's show its failures among the ok ones.
    for (const check of checks) await expect(tile(check).locator(".bar").count(), check).resolves.toBe(48);
    const flapping = await inPage<string[]>(page, `[...document.querySelectorAll('li.tile[data-check="ctl-off"] .bar')].map((b) => b.className.replace("bar ", ""))`);
    expect(flapping.filter((b) => b === "fail").length).toBeGreaterThanOrEqual(18);
    expect(flapping.filter((b) => b === "ok").length).toBeGreaterThanOrEqual(2);
    // Ok until the flapping began 20 hours ago (and a few seconds, since the log was laid out).
    expect(flapping.slice(0, 7)).toEqual(Array(7).fill("ok"));
    await expect(tile("ctl-off").locator(".bars").getAttribute("aria-label")).resolves.toMatch(/with failures/);
    // Uptime from the transitions: down 10 of the last 24 hours (58.3 %), 10 of 168 over the week (94.0 %).
    await expect(tile("ctl-off").locator(".uptime").innerText()).resolves.toMatch(/^up 58\.\d % over 24 h · 94\.\d % over 7 days$/);
    await expect(tile("ctl-one").locator(".uptime").innerText()).resolves.toBe("up 100 % over 24 h · 100 % over 7 days");

    // The dark theme, and readable: AA contrast for the banner and the state words.
    expect(await background(page)).toBe("rgb(13, 17, 23)");
    for (const selector of ["header#banner .overall", "header#banner .attention", 'li.tile[data-check="ctl-three"] .state', 'li.tile[data-check="ctl-two"] .state', 'li.tile[data-check="ctl-one"] .state', 'li.tile[data-check="ctl-one"] .uptime']) {
      expect(await contrast(page, selector), selector).toBeGreaterThanOrEqual(4.5);
    }
    // Landmarks; and the tiles fill the width: several to a row.
    await expect(page.locator("header[role=banner], main, footer").count()).resolves.toBe(3);
    const tops = await boxes(page, "section:last-of-type li.tile", "top");
    expect(new Set(tops).size).toBeLessThan(tops.length);
    await page.screenshot({ path: path.join(ARTIFACTS, "wall-1920x1080-dark.png"), fullPage: true });
  });

  it("at 1280×800 in the light theme: light colours, still AA, links below", async () => {
    const page = await open(1280, 800, "", { dark: false });
    expect(await background(page)).toBe("rgb(255, 255, 255)");
    for (const selector of ["header#banner .overall", "header#banner .attention", 'li.tile[data-check="ctl-three"] .state', 'li.tile[data-check="ctl-two"] .state', 'li.tile[data-check="ctl-one"] .state', "footer"]) {
      expect(await contrast(page, selector), selector).toBeGreaterThanOrEqual(4.5);
    }
    await expect(page.locator("footer a").count()).resolves.toBe(3);
    await page.screenshot({ path: path.join(ARTIFACTS, "desk-1280x800-light.png"), fullPage: true });
  });

  it("follows the browser's dark preference, and fits a phone at 390×844 with one tile a row and no sideways scroll", async () => {
    const page = await open(390, 844, "", { dark: true });
    expect(await background(page)).toBe("rgb(13, 17, 23)");
    expect(await inPage<number>(page, "document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    const lefts = await boxes(page, "li.tile", "left");
    expect(new Set(lefts).size).toBe(1);
    await page.screenshot({ path: path.join(ARTIFACTS, "phone-390x844.png"), fullPage: true });
  });

  it("scales up on a 4K wall: larger type, more tiles a row, nothing off the edge", async () => {
    const wall = await open(3840, 2160, "?theme=dark");
    const fullHd = await open(1920, 1080, "?theme=dark");
    const fontSize = (page: Page): Promise<number> => inPage(page, "parseFloat(getComputedStyle(document.documentElement).fontSize)");
    expect(await fontSize(wall)).toBeGreaterThan((await fontSize(fullHd)) * 1.3);
    expect(await inPage<number>(wall, "document.documentElement.scrollWidth")).toBeLessThanOrEqual(3840);
    const firstRow = async (page: Page): Promise<number> => {
      const tops = await boxes(page, "details li.tile", "top");
      return tops.filter((top) => top === tops[0]).length;
    };
    expect(await firstRow(wall)).toBeGreaterThanOrEqual(5);
  });

  it("in kiosk mode has no links; with ?refresh=5 it swaps in a change without reloading; without JavaScript it reloads itself", async () => {
    const page = await open(1920, 1080, "?kiosk=1&refresh=5&theme=dark");
    await expect(page.locator("a").count()).resolves.toBe(0);
    await inPage(page, "window.notReloaded = true");
    await writeFile(path.join(plugin, "three.severity"), "ok");
    await page.waitForFunction('document.querySelector("header#banner .overall")?.textContent === "⚠ 1 warning"', undefined, { timeout: 20_000 });
    expect(await inPage(page, "window.notReloaded")).toBe(true);
    // Mended, it left the band of what needs attention for its section, folded on a wall.
    await expect(page.locator('section.attention-band li.tile[data-check="ctl-three"]').count()).resolves.toBe(0);
    await expect(page.locator('details li.tile[data-check="ctl-three"] .state').textContent()).resolves.toBe("✓ ok");
    // Nor later: a <meta> refresh, once parsed, reloads the page even if a script removes it.
    await page.waitForTimeout(6000);
    expect(await inPage(page, "window.notReloaded")).toBe(true);

    const still = await open(1280, 800, "?refresh=7", { javaScript: false });
    await expect(still.locator('meta[http-equiv="refresh"]').getAttribute("content")).resolves.toBe("7");
    await expect(still.locator("li.tile").count()).resolves.toBeGreaterThan(5);
    await expect(fetch(`${exporter.url}/?refresh=1`).then((r) => r.status)).resolves.toBe(400);
    await expect(fetch(`${exporter.url}/?theme=purple`).then((r) => r.text())).resolves.toContain("expected dark, light or auto");
  }, 40_000);

  it("has the same history in /status and `status --json`: since, uptime and the 24 h bars", async () => {
    const body = (await (await fetch(`${exporter.url}/status`)).json()) as { sections: Array<{ items: Array<{ check: string; history?: { since: string | null; uptime_24h: number | null; uptime_7d: number | null; bars: unknown[] } }> }> };
    const off = body.sections.flatMap((s) => s.items).find((i) => i.check === "ctl-off")!;
    expect(off.history!.uptime_24h).toBeCloseTo(14 / 24, 2);
    expect(off.history!.uptime_7d).toBeCloseTo(158 / 168, 2);
    expect(off.history!.bars).toHaveLength(48);
  });

  it("on a wall with 500 ok checks: what is wrong first, above the fold, in type read across a room; the ok ones are counts; uptime says over what time", async () => {
    // 500 ok checks and two that are not, on an exporter started now (a day is not known yet).
    const dir = tempDir("hop3-health-many-");
    await writeFile(
      path.join(dir, "many.mjs"),
      `const check = (id, name, severity, message) => ({ id, name, section: "Backing services", isConfigured: () => true, check: async () => ({ name, passed: severity === "ok", severity, message }) });
export default { name: "many", getHealthChecks: () => [
  ...Array.from({ length: 500 }, (_, i) => check("many-" + i, "Service " + i, "ok", "answering")),
  check("bad-db", "Orders database", "fail", "connection refused at 10.0.3.9:5432"),
  check("slow-queue", "Mail queue", "warn", "backlog of 1,204 jobs"),
] };
`,
    );
    const wall = await startExporter({ config: `plugins = ["${dir}"]\n` });
    stops.push(() => wall.stop("SIGKILL"));
    await eventually(async () => (await fetch(`${wall.url}/-/ready`)).ok, 20_000, "the first cycle");
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    stops.push(() => context.close());
    const page = await context.newPage();
    await page.goto(`${wall.url}/?kiosk=1&theme=dark`);
    // The banner names the failure first; the band of what is wrong is above the fold, failures first.
    await expect(page.locator("header#banner .attention").innerText()).resolves.toBe("✗ Orders database · ⚠ Mail queue");
    const band = page.locator("section.attention-band");
    const box = (await band.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(1080);
    await expect(inPage<string[]>(page, `[...document.querySelectorAll("section.attention-band li.tile")].map((t) => t.getAttribute("data-check"))`)).resolves.toEqual(["bad-db", "slow-queue"]);
    // Type for a wall: a banner of at least 64 px, tile text of at least 24 px.
    const px = (selector: string): Promise<number> => inPage(page, `parseFloat(getComputedStyle(document.querySelector(${JSON.stringify(selector)})).fontSize)`);
    expect(await px("header#banner .overall")).toBeGreaterThanOrEqual(64);
    for (const selector of ['li.tile[data-check="bad-db"] .detail', 'li.tile[data-check="bad-db"] h3', 'li.tile[data-check="bad-db"] .uptime']) expect(await px(selector), selector).toBeGreaterThanOrEqual(24);
    // The 500 ok ones are a count that expands, not 500 tiles to scroll past.
    const section = page.locator("section", { has: page.locator("h2", { hasText: "Backing services" }) }).last();
    await expect(section.locator("h2 .counts").innerText()).resolves.toBe("500 ✓ 1 ⚠ 1 ✗");
    await expect(section.locator("details").getAttribute("open")).resolves.toBeNull();
    await expect(section.locator("li.tile").first().isVisible()).resolves.toBe(false);
    const all = ((await (await fetch(`${wall.url}/status`)).json()) as { sections: Array<{ items: unknown[] }> }).sections.reduce((n, s) => n + s.items.length, 0);
    await expect(page.locator("li.tile").count()).resolves.toBe(all);
    // Uptime over what was observed: minutes, not "over 24 h".
    await expect(page.locator('li.tile[data-check="bad-db"] .uptime').innerText()).resolves.toMatch(/^up 0\.0 % since \d\d:\d\d UTC$/);
    await page.screenshot({ path: path.join(ARTIFACTS, "kiosk-1920x1080-500-checks.png") });
    // On a desk, the folded section opens with a click.
    const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    stops.push(() => desk.close());
    const deskPage = await desk.newPage();
    await deskPage.goto(`${wall.url}/`);
    const summary = deskPage.locator("summary", { hasText: "Backing services" });
    await summary.click();
    await expect(deskPage.locator('li.tile[data-check="many-0"]').isVisible()).resolves.toBe(true);
  }, 60_000);
});
