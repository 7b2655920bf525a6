// Writes the dashboards from their typed sources:
//
//   npm run dashboard     grafana/dashboards/hop3-health.json (dashboard.ts), hop3-fleet.json (fleet.ts)

import { writeFileSync } from "node:fs";
import { buildDashboard, dashboardJson } from "./dashboard.js";
import { buildFleetDashboard } from "./fleet.js";

const folder = new URL("./dashboards/", import.meta.url.replace("/dist/grafana/", "/grafana/"));
for (const [name, built] of [
  ["hop3-health.json", buildDashboard()],
  ["hop3-fleet.json", buildFleetDashboard()],
] as const) {
  const file = new URL(name, folder);
  writeFileSync(file, dashboardJson(built));
  console.log(`wrote ${file.pathname}`);
}
