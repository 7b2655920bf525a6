// The status page at `/`: the same report as `hop3-health status`, server-rendered, no script,
// refreshing itself every check interval.

import type { Severity } from "../health/model.js";
import { afterDetail, identityLine, summaryText, SYMBOLS, type Report } from "./report.js";

const COLOURS: Record<Severity, string> = { ok: "#1a7f37", warn: "#9a6700", fail: "#cf222e" };

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderHtml(report: Report | null, options: { refreshSeconds: number; now?: Date }): string {
  const now = options.now ?? new Date();
  const refresh = Math.max(5, Math.round(options.refreshSeconds));
  let body: string;
  let title = "hop3-health";
  if (!report) {
    body = `<p class="waiting">The first check cycle has not finished yet. This page refreshes by itself.</p>`;
  } else {
    title = `${SYMBOLS[report.overall]} ${report.identity.hostname} — hop3-health`;
    const ago = Math.max(0, Math.round((now.getTime() - report.generatedAt.getTime()) / 1000));
    const sections = report.sections
      .map(
        (section) => `<section>
  <h2>${escape(section.title)}</h2>
  <table>
${section.items
  .map(
    (item) =>
      `    <tr class="${item.severity}" data-check="${escape(item.check)}"><th scope="row">${escape(item.name)}</th><td class="symbol" title="${item.severity}">${SYMBOLS[item.severity]}</td><td>${escape(item.detail + afterDetail(item))}</td></tr>`,
  )
  .join("\n")}
  </table>
</section>`,
      )
      .join("\n");
    body = `<p class="identity">${escape(identityLine(report.identity))}</p>
${sections || "<p>No checks are configured on this server.</p>"}
<p class="summary ${report.overall}">Status: ${escape(summaryText(report))}</p>
<p class="meta">Last check cycle finished <time datetime="${report.generatedAt.toISOString()}">${report.generatedAt.toISOString()}</time> (${ago}s ago). This page refreshes every ${refresh}s. Also as <a href="status">JSON</a>, <a href="status?format=text">text</a> and <a href="metrics">metrics</a>.</p>`;
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${refresh}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1f2328; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .3rem; }
  table { border-collapse: collapse; width: 100%; }
  th { text-align: left; font-weight: normal; width: 14rem; padding: .15rem .5rem .15rem 1rem; }
  td { padding: .15rem .5rem; } td.symbol { width: 1.5rem; font-weight: bold; }
  tr.ok td { color: ${COLOURS.ok}; } tr.warn td { color: ${COLOURS.warn}; } tr.fail td { color: ${COLOURS.fail}; }
  .summary { font-weight: bold; font-size: 1.1rem; margin-top: 1.5rem; }
  .summary.ok { color: ${COLOURS.ok}; } .summary.warn { color: ${COLOURS.warn}; } .summary.fail { color: ${COLOURS.fail}; }
  .meta, .waiting { color: #59636e; font-size: .9rem; }
</style>
</head>
<body>
<h1>hop3-health</h1>
${body}
</body>
</html>
`;
}
