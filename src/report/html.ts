// The status page at `/`: the report of `hop3-health status` as a page for a browser or a wall
// screen, server-rendered. The overall status is a banner on top, the identity under it, then each
// section as a grid of tiles: symbol and word (never colour alone), name, message, how long the
// check has been in this state, its last 24 hours as bars and its uptime. It refreshes itself:
// a small script swaps the content in place (no flash); without JavaScript, the page reloads.
//
//   /?theme=dark|light   a theme (by default the browser's prefers-color-scheme)
//   /?refresh=N          refresh every N seconds (5 to 86400; default: the check interval)
//   /?kiosk=1            no links, for a screen nobody clicks

import type { Severity } from "../health/model.js";
import type { CheckOutcome } from "../health/outcome.js";
import { BARS, lasted, type Bar, type CheckHistory } from "./history.js";
import { afterDetail, identityLine, summaryText, SYMBOLS, type Report } from "./report.js";

export interface PageOptions {
  refreshSeconds: number;
  theme: "auto" | "light" | "dark";
  kiosk: boolean;
  now?: Date;
}

/** The page's options from its query string; a message when one is wrong. */
export function pageOptions(params: URLSearchParams, intervalSeconds: number): PageOptions | string {
  const theme = params.get("theme") ?? "auto";
  if (theme !== "auto" && theme !== "light" && theme !== "dark") return `theme=${JSON.stringify(theme)}: expected dark, light or auto`;
  const refresh = params.get("refresh");
  const refreshSeconds = refresh === null ? Math.max(5, Math.round(intervalSeconds)) : Number(refresh);
  if (!Number.isInteger(refreshSeconds) || refreshSeconds < 5 || refreshSeconds > 86_400) return `refresh=${JSON.stringify(refresh)}: expected a whole number of seconds from 5 to 86400`;
  const kiosk = params.get("kiosk");
  return { refreshSeconds, theme, kiosk: kiosk !== null && kiosk !== "0" && kiosk !== "false" };
}

const WORDS: Record<Severity, string> = { ok: "ok", warn: "warning", fail: "failing" };
const BAR_WORDS: Record<Exclude<Bar, null>, string> = { ok: "ok", warn: "warning", fail: "failing", maintenance: "in maintenance" };

// Colours with at least 4.5:1 contrast (WCAG AA) for their text, in both themes.
const LIGHT = { bg: "#ffffff", fg: "#1f2328", muted: "#57606a", tile: "#f6f8fa", line: "#d0d7de", ok: "#1a7f37", warn: "#8a5c00", fail: "#cf222e", maint: "#0969da", okBg: "#1a7f37", warnBg: "#8a5c00", failBg: "#b62324" };
const DARK = { bg: "#0d1117", fg: "#e6edf3", muted: "#9198a1", tile: "#161b22", line: "#30363d", ok: "#3fb950", warn: "#d29922", fail: "#ff7b72", maint: "#58a6ff", okBg: "#1f6f2f", warnBg: "#7d5400", failBg: "#b62324" };
const vars = (theme: typeof LIGHT): string =>
  Object.entries(theme)
    .map(([k, v]) => `--${k}: ${v};`)
    .join(" ");

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function percent(ratio: number | null): string {
  if (ratio === null) return "—";
  // Rounded down: a check that was not ok at all for a moment never shows 100 %.
  const digits = ratio >= 0.99 ? 2 : 1;
  const value = Math.floor(ratio * 100 * 10 ** digits) / 10 ** digits;
  return `${ratio === 1 ? "100" : value.toFixed(digits)} %`;
}

/** Each half hour's bar, in each state it can show, as HTML: made once a page, for every tile. */
type BarMarkup = Array<Record<Exclude<Bar, null> | "none", string>>;
function barMarkup(now: Date): BarMarkup {
  return Array.from({ length: BARS }, (_, i) => {
    const time = new Date(now.getTime() - ((BARS - i) * 86_400_000) / BARS).toISOString().slice(11, 16);
    const bar = (kind: string, words: string): string => `<span class="bar ${kind}" title="${time} UTC: ${words}"></span>`;
    return { ok: bar("ok", BAR_WORDS.ok), warn: bar("warn", BAR_WORDS.warn), fail: bar("fail", BAR_WORDS.fail), maintenance: bar("maintenance", BAR_WORDS.maintenance), none: bar("none", "no data") };
  });
}

function bars(history: CheckHistory, markup: BarMarkup): string {
  let html = "";
  const counts = { ok: 0, warn: 0, fail: 0, maintenance: 0, none: 0 };
  for (const [i, bar] of history.bars.entries()) {
    html += markup[i]![bar ?? "none"];
    counts[bar ?? "none"]++;
  }
  const summary = [
    `${counts.ok} ok`,
    ...(counts.warn ? [`${counts.warn} with warnings`] : []),
    ...(counts.fail ? [`${counts.fail} with failures`] : []),
    ...(counts.maintenance ? [`${counts.maintenance} in maintenance`] : []),
    ...(counts.none ? [`${counts.none} without data`] : []),
  ].join(", ");
  return `<div class="bars" role="img" aria-label="Last 24 hours, by half hour: ${summary}">${html}</div>`;
}

/** "10:02 UTC" today, "Mon 10:02 UTC" within the week. */
function clock(iso: string, now: Date): string {
  const at = new Date(iso);
  const time = `${iso.slice(11, 16)} UTC`;
  return now.getTime() - at.getTime() < 86_400_000 && at.getUTCDate() === now.getUTCDate() ? time : `${at.toUTCString().slice(0, 3)} ${time}`;
}

/**
 * Uptime as far as it was observed: "up 99.2 % since 10:02 UTC" until a day is known, then "over
 * 24 h", and the week's figure once a week is known ("since Mon 10:02 UTC" before).
 */
function uptimeLine(history: CheckHistory, now: Date): string {
  const observed = history.observed_since === null ? 0 : now.getTime() - Date.parse(history.observed_since);
  const since = history.observed_since === null ? "" : clock(history.observed_since, now);
  if (observed < 86_400_000) return `up ${percent(history.uptime_24h)} since ${since}`;
  const week = observed < 7 * 86_400_000 ? `since ${since}` : "over 7 days";
  return `up ${percent(history.uptime_24h)} over 24 h · ${percent(history.uptime_7d)} ${week}`;
}

function tile(item: CheckOutcome, now: Date, markup: BarMarkup): string {
  const history = item.history;
  const since = history?.since ? `${WORDS[item.severity]} for ${lasted(now.getTime() - Date.parse(history.since))}` : "";
  return `<li class="tile ${item.severity}" data-check="${escape(item.check)}">
<p class="state"><span aria-hidden="true">${SYMBOLS[item.severity]}</span> ${WORDS[item.severity]}</p>
<h3>${escape(item.name)}</h3>
<p class="detail">${escape(item.detail + afterDetail(item))}</p>
${since ? `<p class="since">${since}</p>\n` : ""}${history ? `${bars(history, markup)}\n<p class="uptime">${uptimeLine(history, now)}</p>\n` : ""}</li>`;
}

/** Ok tiles shown unfolded on a desk up to this many; past it (and on a wall), each section is its count until opened. */
const FOLD_ABOVE = 40;

/** The banner names what is wrong, failures first: read across a room without looking for red tiles. */
const ATTENTION_SHOWN = 8;
function attentionLine(report: Report): string {
  const items = report.sections.flatMap((s) => s.items);
  const wrong = [...items.filter((i) => i.severity === "fail"), ...items.filter((i) => i.severity === "warn")];
  if (wrong.length === 0) return "";
  const named = wrong.slice(0, ATTENTION_SHOWN).map((i) => `${SYMBOLS[i.severity]} ${escape(i.name)}`);
  const more = wrong.length > ATTENTION_SHOWN ? ` · +${wrong.length - ATTENTION_SHOWN} more` : "";
  return `<p class="attention">${named.join(" · ")}${more}</p>\n`;
}

export function renderHtml(report: Report | null, options: PageOptions): string {
  const now = options.now ?? new Date();
  const overall = report?.overall ?? "none";
  const title = report ? `${SYMBOLS[report.overall]} ${report.identity.hostname} — hop3-health` : "hop3-health";
  const banner = report
    ? `<p class="overall"><span aria-hidden="true">${SYMBOLS[report.overall]}</span> ${escape(summaryText(report).replace(/^\S+ /, ""))}</p>
${attentionLine(report)}<p class="identity">${escape(identityLine(report.identity))}</p>`
    : `<p class="overall">Waiting for the first check cycle</p>`;
  const markup = barMarkup(now);
  const items = report ? report.sections.flatMap((s) => s.items) : [];
  const wrong = [...items.filter((i) => i.severity === "fail"), ...items.filter((i) => i.severity === "warn")];
  // What is wrong first, in a band of its own; then each section's ok tiles, folded into its count
  // (open on a desk while there are few; on a wall, or with many, the counts alone).
  const okCount = items.length - wrong.length;
  const unfold = !options.kiosk && okCount <= FOLD_ABOVE;
  const band =
    wrong.length > 0
      ? `<section class="attention-band" aria-labelledby="attention">
<h2 id="attention">Needs attention <span class="counts">${wrong.length}</span></h2>
<ul class="tiles">
${wrong.map((item) => tile(item, now, markup)).join("\n")}
</ul>
</section>
`
      : "";
  const sections = report
    ? band +
        (report.sections
          .map((section, i) => {
            const counts = (["ok", "warn", "fail"] as const).map((s) => [s, section.items.filter((item) => item.severity === s).length] as const).filter(([, n]) => n > 0);
            const ok = section.items.filter((item) => item.severity === "ok");
            const heading = `${escape(section.title)} <span class="counts">${counts.map(([s, n]) => `${n} ${SYMBOLS[s]}`).join(" ")}</span>`;
            return `<section aria-labelledby="section-${i}">
<details${unfold ? " open" : ""}><summary><h2 id="section-${i}">${heading}</h2></summary>
<ul class="tiles">
${ok.map((item) => tile(item, now, markup)).join("\n")}
</ul>
</details>
</section>`;
          })
          .join("\n") || "<p>No checks are configured on this server.</p>")
    : "<p>The first check cycle has not finished yet. This page refreshes by itself.</p>";
  const ago = report ? Math.max(0, Math.round((now.getTime() - report.generatedAt.getTime()) / 1000)) : 0;
  const meta = report
    ? `Last check cycle finished <time datetime="${report.generatedAt.toISOString()}">${report.generatedAt.toISOString().slice(0, 19).replace("T", " ")} UTC</time> (${ago}s ago); refreshes every ${options.refreshSeconds}s.` +
      (options.kiosk ? "" : ` Also as <a href="status">JSON</a>, <a href="status?format=text">text</a> and <a href="metrics">metrics</a>.`)
    : "";
  const classes = [...(options.theme === "auto" ? [] : [options.theme]), ...(options.kiosk ? ["kiosk"] : [])];
  const themeClass = classes.length > 0 ? ` class="${classes.join(" ")}"` : "";
  return `<!doctype html>
<html lang="en"${themeClass} data-refresh="${options.refreshSeconds}">
<head>
<meta charset="utf-8">
<noscript><meta http-equiv="refresh" content="${options.refreshSeconds}"></noscript>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="${options.theme === "auto" ? "light dark" : options.theme}">
<title>${escape(title)}</title>
<style>
  :root { ${vars(LIGHT)} }
  @media (prefers-color-scheme: dark) { :root:not(.light) { ${vars(DARK)} } }
  :root.dark { ${vars(DARK)} }
  * { box-sizing: border-box; }
  html { font: clamp(14px, 0.42vw + 9px, 30px)/1.45 system-ui, "DejaVu Sans", sans-serif; background: var(--bg); color: var(--fg); }
  body { margin: 0; }
  header { padding: .9rem 1.5rem; color: #ffffff; background: var(--muted); }
  header.ok { background: var(--okBg); } header.warn { background: var(--warnBg); } header.fail { background: var(--failBg); }
  .overall { font-size: 1.9rem; font-weight: 700; margin: 0; }
  .attention { font-size: 1.35rem; font-weight: 600; margin: .25rem 0 0; }
  .identity { margin: .2rem 0 0; }
  main { padding: .5rem 1.5rem 1rem; }
  h2 { font-size: 1.15rem; margin: 1rem 0 .5rem; }
  h2 .counts { font-weight: 400; color: var(--muted); margin-left: .5rem; }
  summary { cursor: pointer; list-style-position: outside; } summary h2 { display: inline; } details { margin: 1rem 0 .5rem; }
  details > .tiles { margin-top: .5rem; }
  .attention-band h2 { color: var(--fail); }
  /* On a wall (kiosk): read from across a room. At 1920 px wide, 24 px text and a 64 px banner. */
  :root.kiosk { font-size: clamp(24px, 1.25vw, 48px); }
  .kiosk .overall { font-size: 2.7rem; } .kiosk .attention { font-size: 1.6rem; }
  .kiosk .detail, .kiosk .since, .kiosk .uptime { font-size: 1rem; }
  .kiosk .tiles { grid-template-columns: repeat(auto-fill, minmax(min(100%, 22rem), 1fr)); }
  .tiles { list-style: none; margin: 0; padding: 0; display: grid; gap: .75rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 19rem), 1fr)); }
  .tile { background: var(--tile); border: 1px solid var(--line); border-left: .45rem solid var(--muted); border-radius: .4rem; padding: .55rem .8rem; min-width: 0; }
  .tile.ok { border-left-color: var(--ok); } .tile.warn { border-left-color: var(--warn); } .tile.fail { border-left-color: var(--fail); }
  .tile p, .tile h3 { margin: 0; overflow-wrap: anywhere; }
  .state { font-weight: 700; } .ok .state { color: var(--ok); } .warn .state { color: var(--warn); } .fail .state { color: var(--fail); }
  .tile h3 { font-size: 1.05rem; }
  .detail { font-size: .9rem; }
  .since, .uptime { font-size: .85rem; color: var(--muted); }
  .bars { display: flex; gap: 1px; height: 1.1rem; margin: .35rem 0 .15rem; }
  .bar { flex: 1; border-radius: 1px; }
  .bar.ok { background: var(--ok); }
  .bar.warn { background: repeating-linear-gradient(45deg, var(--warn) 0 3px, transparent 3px 5px); }
  .bar.fail { background: var(--fail); height: 100%; box-shadow: inset 0 -.3rem 0 var(--fg); }
  .bar.maintenance { background: repeating-linear-gradient(90deg, var(--maint) 0 2px, transparent 2px 4px); }
  .bar.none { border: 1px dashed var(--line); }
  footer { padding: 0 1.5rem 1rem; color: var(--muted); font-size: .85rem; }
  a { color: var(--maint); }
</style>
</head>
<body>
<header id="banner" class="${overall}" role="banner">
${banner}
</header>
<main id="report">
${sections}
</main>
<footer id="meta">${meta}</footer>
<script>
(() => {
  const every = Number(document.documentElement.dataset.refresh) * 1000;
  setInterval(async () => {
    try {
      const page = new DOMParser().parseFromString(await (await fetch(location.href, { cache: "no-store" })).text(), "text/html");
      for (const id of ["banner", "report", "meta"]) {
        const fresh = page.getElementById(id);
        if (fresh) document.getElementById(id)?.replaceWith(fresh);
      }
      document.title = page.title;
    } catch {
      // The exporter is restarting: the next turn tries again.
    }
  }, every);
})();
</script>
</body>
</html>
`;
}
