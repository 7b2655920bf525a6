// The fleet dashboard: every Hop3 server on one Prometheus (deploy/fleet/) as one row of a table,
// with its overall status, failing and degraded checks, unhealthy apps, soonest certificate expiry,
// fullest disk and whether its exporter answers; the server's name links to the per-server
// dashboard (dashboard.ts) with $instance set. Above it, the fleet in five numbers; below, each
// server's status over time.
//
// Every query aggregates by instance in Prometheus, so the browser gets one series per server
// whatever the number of checks: with 200 servers, each query returns at most 200 series
// (bench/fleet-cost.ts times them).

import {
  BigValueColorMode,
  BigValueTextMode,
  FieldColorModeId,
  MappingType,
  TableCellDisplayMode,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  VisibilityMode,
  type Dashboard,
  type Panel,
} from "@grafana/schema";
import { DATASOURCE, DATASOURCE_VARIABLE, GREEN, RED, SEVERITY_MAPPINGS, SEVERITY_THRESHOLDS, YELLOW, dashboard, panel, resetPanelIds, statOptions, target } from "./dashboard.js";

const sel = 'instance=~"$instance"';
/** Every server seen in the last day, up or not: one series per instance. */
const KNOWN = `max by (instance) (last_over_time(hop3_server_info{${sel}}[1d]))`;
/** Servers whose exporter answers now. */
const UP = `max by (instance) (up{job="hop3-health",${sel}})`;

/** The columns of the servers table, in order: each an instant query by instance. */
const COLUMNS: Array<{ refId: string; name: string; expr: string; config: Record<string, unknown> }> = [
  {
    refId: "B",
    name: "Status",
    expr: `max by (instance) (hop3_health_overall_severity{${sel}})`,
    config: { mappings: SEVERITY_MAPPINGS, thresholds: SEVERITY_THRESHOLDS, cell: TableCellDisplayMode.ColorBackground },
  },
  { refId: "C", name: "Failing checks", expr: `sum by (instance) (hop3_health_severity{${sel}} == bool 2)`, config: { counts: RED } },
  { refId: "D", name: "Degraded checks", expr: `sum by (instance) (hop3_health_severity{${sel}} == bool 1)`, config: { counts: YELLOW } },
  {
    refId: "E",
    name: "Unhealthy apps",
    // A server with no app has 0, not an empty cell.
    expr: `sum by (instance) (hop3_app_health_severity{${sel}} == bool 2) or 0 * max by (instance) (hop3_server_info{${sel}})`,
    config: { counts: RED },
  },
  {
    refId: "F",
    name: "Soonest certificate",
    expr: `min by (instance) (hop3_certificate_not_after_timestamp_seconds{${sel}} - time()) / 86400`,
    config: {
      unit: "d",
      decimals: 0,
      thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: RED, value: null }, { color: YELLOW, value: 3 }, { color: GREEN, value: 14 }] },
      cell: TableCellDisplayMode.ColorText,
    },
  },
  {
    refId: "G",
    name: "Fullest disk",
    expr: `max by (instance) (hop3_disk_usage_ratio{${sel}})`,
    config: {
      unit: "percentunit",
      decimals: 0,
      min: 0,
      max: 1,
      thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: GREEN, value: null }, { color: YELLOW, value: 0.8 }, { color: RED, value: 0.9 }] },
      cell: TableCellDisplayMode.BasicGauge,
    },
  },
  {
    refId: "H",
    name: "Exporter",
    // Known in the last day but not scraped now (down, or a fleet server that fell silent): 0.
    expr: `${UP} or 0 * ${KNOWN}`,
    config: {
      mappings: [{ type: MappingType.ValueToText, options: { "0": { text: "✗ down", color: RED, index: 0 }, "1": { text: "✓ up", color: GREEN, index: 1 } } }],
      thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: RED, value: null }, { color: GREEN, value: 1 }] },
      cell: TableCellDisplayMode.ColorBackground,
    },
  },
];

/** The link from a server to its own dashboard, keeping the datasource and time range. */
export const SERVER_LINK = "/d/hop3-health/hop3-health?var-datasource=${datasource}&var-instance=${__data.fields.instance}&${__url_time_range}";

function serversTable(): Panel {
  const overrides = [
    {
      matcher: { id: "byName", options: "instance" },
      properties: [
        { id: "displayName", value: "Instance" },
        { id: "links", value: [{ title: "Open this server's dashboard", url: SERVER_LINK }] },
      ],
    },
    {
      matcher: { id: "byName", options: "hostname" },
      properties: [
        { id: "displayName", value: "Server" },
        { id: "links", value: [{ title: "Open this server's dashboard", url: SERVER_LINK }] },
      ],
    },
    { matcher: { id: "byName", options: "version" }, properties: [{ id: "displayName", value: "Hop3" }] },
    ...COLUMNS.map(({ refId, name, config }) => {
      const { cell, counts, ...fieldConfig } = config as { cell?: TableCellDisplayMode; counts?: string } & Record<string, unknown>;
      const properties: Array<{ id: string; value: unknown }> = [{ id: "displayName", value: name }];
      for (const [id, value] of Object.entries(fieldConfig)) properties.push({ id, value });
      if (counts !== undefined) {
        // A count of problems: plain at 0, coloured from 1.
        properties.push(
          { id: "decimals", value: 0 },
          { id: "thresholds", value: { mode: ThresholdsMode.Absolute, steps: [{ color: "text", value: null }, { color: counts, value: 1 }] } },
        );
      }
      properties.push({ id: "custom.cellOptions", value: { type: cell ?? TableCellDisplayMode.ColorText } });
      return { matcher: { id: "byName", options: `Value #${refId}` }, properties };
    }),
  ];
  return panel("table", "Servers", { x: 0, y: 4, w: 24, h: 14 }, {
    description: "One row per Hop3 server: its status as the terminal report's summary line says it, and what is wrong. The server's name opens its dashboard.",
    targets: [
      { ...target(`max by (instance, hostname, version) (last_over_time(hop3_server_info{${sel}}[1d]))`, "", "A", true), format: "table" },
      ...COLUMNS.map((c) => ({ ...target(c.expr, "", c.refId, true), format: "table" })),
    ],
    // One row per instance: the queries' frames joined on it, the timestamps and the info value out.
    transformations: [
      { id: "merge", options: {} },
      { id: "organize", options: { excludeByName: { Time: true, "Value #A": true }, indexByName: { hostname: 0, instance: 1, version: 2 } } },
    ],
    options: {
      showHeader: true,
      cellHeight: "sm",
      footer: { show: false, reducer: ["sum"], countRows: false, fields: "" },
      // The worst first.
      sortBy: [{ displayName: "Status", desc: true }],
    },
    fieldConfig: {
      defaults: { noValue: "—", custom: { align: "auto", cellOptions: { type: TableCellDisplayMode.Auto }, inspect: false }, color: { mode: FieldColorModeId.Thresholds } },
      overrides,
    },
  });
}

function fleetStat(title: string, expr: string, x: number, description: string, bad: string): Panel {
  return panel("stat", title, { x, y: 0, w: title === "Servers" ? 4 : 5, h: 4 }, {
    description,
    targets: [target(expr, title, "A", true)],
    options: statOptions({ textMode: BigValueTextMode.Value, colorMode: BigValueColorMode.Background }) as unknown as Record<string, unknown>,
    fieldConfig: {
      defaults: {
        decimals: 0,
        color: { mode: FieldColorModeId.Thresholds },
        thresholds: { mode: ThresholdsMode.Absolute, steps: bad === "text" ? [{ color: "text", value: null }] : [{ color: GREEN, value: null }, { color: bad, value: 1 }] },
      },
      overrides: [],
    },
  });
}

export function buildFleetDashboard(): Dashboard {
  resetPanelIds();
  const panels: Panel[] = [
    fleetStat("Servers", `count(${KNOWN})`, 0, "Hop3 servers seen in the last day.", "text"),
    fleetStat("Failing", `count(max by (instance) (hop3_health_overall_severity{${sel}}) == 2) or vector(0)`, 4, "Servers with at least one check at fail severity.", RED),
    fleetStat("Degraded", `count(max by (instance) (hop3_health_overall_severity{${sel}}) == 1) or vector(0)`, 9, "Servers whose worst check is at warn severity.", YELLOW),
    fleetStat("Exporters down", `count(${KNOWN} unless on (instance) (${UP} == 1)) or vector(0)`, 14, "Servers seen in the last day whose exporter cannot be scraped now, or that sent nothing.", RED),
    fleetStat("Pages firing", `count(ALERTS{alertstate="firing",severity="critical",alertname=~"Hop3.+"}) or vector(0)`, 19, "Critical hop3-health alerts firing now: each is one page.", RED),
    serversTable(),
    panel("state-timeline", "Status over time", { x: 0, y: 18, w: 24, h: 10 }, {
      description: "Each server's worst severity, cycle by cycle.",
      targets: [target(`max by (instance) (hop3_health_overall_severity{${sel}})`, "{{instance}}")],
      options: {
        showValue: VisibilityMode.Never,
        rowHeight: 0.8,
        mergeValues: true,
        alignValue: "left",
        legend: { displayMode: "list", placement: "bottom", showLegend: false, calcs: [] },
        tooltip: { mode: "single", sort: "none" },
      },
      fieldConfig: {
        defaults: {
          mappings: SEVERITY_MAPPINGS,
          thresholds: SEVERITY_THRESHOLDS,
          color: { mode: FieldColorModeId.Thresholds },
          links: [{ title: "Open this server's dashboard", url: SERVER_LINK.replace("${__data.fields.instance}", "${__field.labels.instance}") }],
        },
        overrides: [],
      },
    }),
  ];
  return dashboard({
    uid: "hop3-fleet",
    title: "Hop3 fleet",
    description: "Every Hop3 server on this Prometheus: status, failing and degraded checks, apps, certificates, disks and exporters; each links to its own dashboard.",
    variables: [
      DATASOURCE_VARIABLE,
      {
        type: "query",
        name: "instance",
        label: "Hop3 servers",
        datasource: DATASOURCE,
        query: { query: "label_values(hop3_server_info, instance)", refId: "instance" },
        refresh: VariableRefresh.onTimeRangeChanged,
        sort: VariableSort.alphabeticalAsc,
        multi: true,
        includeAll: true,
        allValue: ".+",
        current: { text: "All", value: "$__all" },
        skipUrlSync: false,
      },
    ],
    panels,
  });
}
