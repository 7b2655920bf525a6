// The Grafana dashboard, written against Grafana's published types (@grafana/schema) so that a
// wrong field does not compile. It mirrors the terminal report: identity, overall status, each
// section as a grid of ✓/⚠/✗ tiles, then disks, certificates, deploys, apps, durations and a
// severity timeline.
//
//   npm run dashboard     writes grafana/dashboards/hop3-health.json from this file (grafana/generate.ts)

import {
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  DashboardCursorSync,
  FieldColorModeId,
  LegendDisplayMode,
  MappingType,
  PercentChangeColorMode,
  SortOrder,
  ThresholdsMode,
  TooltipDisplayMode,
  VariableRefresh,
  VariableSort,
  VisibilityMode,
  VizOrientation,
  type Dashboard,
  type DataSourceRef,
  type Panel,
  type ValueMapping,
  type VariableModel,
} from "@grafana/schema";
import type { Options as StatOptions } from "@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen";
import type { Options as TimelineOptions } from "@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen";


export const DATASOURCE: DataSourceRef = { type: "prometheus", uid: "${datasource}" };
const SECTIONS = ["Services", "Backing services", "Filesystem", "Configuration", "Certificates", "Apps"] as const;

export const GREEN = "green";
export const YELLOW = "#EAB839";
export const RED = "red";

/** 0 ✓ ok, 1 ⚠ warn, 2 ✗ fail: the report's symbols and colours. */
export const SEVERITY_MAPPINGS: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: {
      "0": { text: "✓ ok", color: GREEN, index: 0 },
      "1": { text: "⚠ warn", color: YELLOW, index: 1 },
      "2": { text: "✗ fail", color: RED, index: 2 },
    },
  },
];

export const SEVERITY_THRESHOLDS = {
  mode: ThresholdsMode.Absolute,
  steps: [
    { color: GREEN, value: null },
    { color: YELLOW, value: 1 },
    { color: RED, value: 2 },
  ],
};

export function target(expr: string, legendFormat: string, refId = "A", instant = false): Record<string, unknown> {
  return { datasource: DATASOURCE, expr, legendFormat, refId, ...(instant ? { instant: true, range: false } : { range: true }) };
}

let nextId = 1;
/** Each dashboard numbers its panels from 1. */
export function resetPanelIds(): void {
  nextId = 1;
}
export function panel(type: string, title: string, gridPos: Panel["gridPos"], rest: Partial<Panel>): Panel {
  return { id: nextId++, type, title, gridPos, datasource: DATASOURCE, ...rest };
}

export function statOptions(overrides: Partial<StatOptions> = {}): StatOptions {
  return {
    reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
    orientation: VizOrientation.Auto,
    textMode: BigValueTextMode.ValueAndName,
    colorMode: BigValueColorMode.Background,
    graphMode: BigValueGraphMode.None,
    justifyMode: BigValueJustifyMode.Center,
    showPercentChange: false,
    percentChangeColorMode: PercentChangeColorMode.Standard,
    wideLayout: true,
    ...overrides,
  };
}

/** A grid of ✓/⚠/✗ tiles, one per series. */
function severityTiles(title: string, expr: string, legend: string, gridPos: Panel["gridPos"], description: string): Panel {
  return panel("stat", title, gridPos, {
    description,
    targets: [target(expr, legend, "A", true)],
    options: statOptions() as unknown as Record<string, unknown>,
    fieldConfig: {
      defaults: { mappings: SEVERITY_MAPPINGS, thresholds: SEVERITY_THRESHOLDS, color: { mode: FieldColorModeId.Thresholds }, noValue: "—" },
      overrides: [],
    },
  });
}

const sel = 'instance=~"$instance"';

export function buildDashboard(): Dashboard {
  resetPanelIds();
  const panels: Panel[] = [];

  // Identity and the overall status: the report's header and summary line.
  panels.push(
    panel("stat", "Hop3 server", { x: 0, y: 0, w: 10, h: 4 }, {
      description: "hostname (primary IP) — Hop3 version, as in the report's header",
      targets: [target(`hop3_server_info{${sel}}`, "{{hostname}} ({{ip}}) — v{{version}}", "A", true)],
      options: statOptions({ textMode: BigValueTextMode.Name, colorMode: BigValueColorMode.None }) as unknown as Record<string, unknown>,
      fieldConfig: { defaults: { color: { mode: FieldColorModeId.Fixed, fixedColor: "text" } }, overrides: [] },
    }),
    panel("stat", "Uptime", { x: 10, y: 0, w: 4, h: 4 }, {
      targets: [target(`time() - hop3_server_boot_time_seconds{${sel}}`, "uptime", "A", true)],
      options: statOptions({ textMode: BigValueTextMode.Value, colorMode: BigValueColorMode.None }) as unknown as Record<string, unknown>,
      fieldConfig: { defaults: { unit: "dtdurations", decimals: 0 }, overrides: [] },
    }),
    panel("stat", "Status", { x: 14, y: 0, w: 5, h: 4 }, {
      description: "The worst severity of the last check cycle: the report's Status line.",
      targets: [target(`max(hop3_health_overall_severity{${sel}})`, "overall", "A", true)],
      options: statOptions({ textMode: BigValueTextMode.Value }) as unknown as Record<string, unknown>,
      fieldConfig: { defaults: { mappings: SEVERITY_MAPPINGS, thresholds: SEVERITY_THRESHOLDS, color: { mode: FieldColorModeId.Thresholds } }, overrides: [] },
    }),
    panel("stat", "Exporter", { x: 19, y: 0, w: 5, h: 4 }, {
      description: "Whether Prometheus can scrape hop3-health, and how long ago its last cycle finished.",
      targets: [
        target(`up{job="hop3-health",${sel}}`, "scrape", "A", true),
        target(`time() - max(hop3_health_last_cycle_timestamp_seconds{${sel}})`, "last cycle", "B", true),
      ],
      options: statOptions() as unknown as Record<string, unknown>,
      fieldConfig: {
        defaults: { color: { mode: FieldColorModeId.Fixed, fixedColor: "text" } },
        overrides: [
          {
            matcher: { id: "byFrameRefID", options: "A" },
            properties: [
              {
                id: "mappings",
                value: [{ type: MappingType.ValueToText, options: { "0": { text: "✗ down", color: RED, index: 0 }, "1": { text: "✓ up", color: GREEN, index: 1 } } }],
              },
              { id: "color", value: { mode: FieldColorModeId.Thresholds } },
              { id: "thresholds", value: { mode: ThresholdsMode.Absolute, steps: [{ color: RED, value: null }, { color: GREEN, value: 1 }] } },
            ],
          },
          { matcher: { id: "byFrameRefID", options: "B" }, properties: [{ id: "unit", value: "s" }, { id: "decimals", value: 0 }] },
        ],
      },
    }),
  );

  // Each section of the report as a grid of tiles, two sections a row.
  SECTIONS.forEach((section, i) => {
    panels.push(
      severityTiles(
        section,
        `hop3_health_severity{${sel},section="${section}"}`,
        "{{check}}",
        { x: (i % 2) * 12, y: 4 + Math.floor(i / 2) * 5, w: 12, h: 5 },
        `The ${section} section of the report: one tile per configured check.`,
      ),
    );
  });

  // Jobs: each heartbeat's check, and how long ago each job last reported in.
  panels.push(
    severityTiles("Jobs", `hop3_health_severity{${sel},section="Jobs"}`, "{{check}}", { x: 0, y: 19, w: 12, h: 5 }, "Jobs that report in (backups, cron workers): late, failed or ok, one tile per [heartbeats.<id>]."),
    panel("bargauge", "Jobs: time since the last beat", { x: 12, y: 19, w: 12, h: 5 }, {
      description: "How long ago each job last reported in (POST /api/v1/heartbeats/<id>).",
      targets: [target(`time() - hop3_heartbeat_last_timestamp_seconds{${sel}}`, "{{heartbeat}}", "A", true)],
      options: { orientation: "horizontal", displayMode: "basic", showUnfilled: true, reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false } },
      fieldConfig: { defaults: { unit: "s", decimals: 0, min: 0, color: { mode: FieldColorModeId.Fixed, fixedColor: "blue" } }, overrides: [] },
    }),
  );

  // Disks: usage now, and available space with its trend.
  panels.push(
    panel("bargauge", "Disk usage", { x: 0, y: 24, w: 8, h: 7 }, {
      targets: [target(`hop3_disk_usage_ratio{${sel}}`, "{{path}}", "A", true)],
      options: { orientation: "horizontal", displayMode: "gradient", showUnfilled: true, reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false } },
      fieldConfig: {
        defaults: {
          unit: "percentunit",
          min: 0,
          max: 1,
          thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: GREEN, value: null }, { color: YELLOW, value: 0.8 }, { color: RED, value: 0.9 }] },
          color: { mode: FieldColorModeId.Thresholds },
        },
        overrides: [],
      },
    }),
    panel("timeseries", "Disk available, and where the last 6 h lead in a day", { x: 8, y: 24, w: 16, h: 7 }, {
      targets: [
        target(`hop3_disk_available_bytes{${sel}}`, "{{path}} available"),
        target(`predict_linear(hop3_disk_available_bytes{${sel}}[6h], 24 * 3600)`, "{{path}} in 24 h at this rate", "B"),
      ],
      options: { legend: { displayMode: "list", placement: "bottom", showLegend: true, calcs: [] }, tooltip: { mode: "multi", sort: "none" } },
      fieldConfig: {
        defaults: { unit: "bytes", custom: { lineWidth: 2, fillOpacity: 10 } },
        overrides: [{ matcher: { id: "byFrameRefID", options: "B" }, properties: [{ id: "custom.lineStyle", value: { fill: "dash", dash: [10, 10] } }] }],
      },
    }),
  );

  // Certificates and apps.
  panels.push(
    panel("bargauge", "Certificates: days left", { x: 0, y: 31, w: 12, h: 7 }, {
      description: "Days until each certificate expires; warn at 14, fail at 3.",
      targets: [target(`(hop3_certificate_not_after_timestamp_seconds{${sel}} - time()) / 86400`, "{{domain}}", "A", true)],
      options: { orientation: "horizontal", displayMode: "basic", showUnfilled: true, reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false } },
      fieldConfig: {
        defaults: {
          unit: "d",
          decimals: 0,
          min: 0,
          max: 90,
          thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: RED, value: null }, { color: YELLOW, value: 3 }, { color: GREEN, value: 14 }] },
          color: { mode: FieldColorModeId.Thresholds },
        },
        overrides: [],
      },
    }),
    panel("stat", "Certificates: issuer", { x: 12, y: 31, w: 12, h: 7 }, {
      targets: [target(`hop3_certificate_self_signed{${sel}}`, "{{domain}}", "A", true)],
      options: statOptions() as unknown as Record<string, unknown>,
      fieldConfig: {
        defaults: {
          mappings: [{ type: MappingType.ValueToText, options: { "0": { text: "✓ CA-issued", color: GREEN, index: 0 }, "1": { text: "⚠ self-signed", color: YELLOW, index: 1 } } }],
          color: { mode: FieldColorModeId.Thresholds },
          thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: GREEN, value: null }, { color: YELLOW, value: 1 }] },
        },
        overrides: [],
      },
    }),
    severityTiles("App health", `hop3_app_health_severity{${sel}}`, "{{app}}", { x: 0, y: 38, w: 12, h: 6 }, "Continuous health of every app that declares a health endpoint."),
    panel("bargauge", "Deploy probes in the time range", { x: 12, y: 38, w: 12, h: 6 }, {
      targets: [target(`sum by (app, result) (increase(hop3_deploy_probe_total{${sel}}[$__range]))`, "{{app}} {{result}}", "A", true)],
      options: { orientation: "horizontal", displayMode: "basic", showUnfilled: true, reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false } },
      fieldConfig: {
        defaults: { decimals: 0, min: 0, color: { mode: FieldColorModeId.Fixed, fixedColor: "blue" } },
        overrides: [{ matcher: { id: "byRegexp", options: ".* failure" }, properties: [{ id: "color", value: { mode: FieldColorModeId.Fixed, fixedColor: RED } }] }],
      },
    }),
    panel("timeseries", "Deploy probe duration (p50, p95)", { x: 0, y: 44, w: 12, h: 7 }, {
      targets: [
        target(`histogram_quantile(0.5, sum by (le, app) (increase(hop3_deploy_probe_duration_seconds_bucket{${sel}}[$__range])))`, "{{app}} p50", "A"),
        target(`histogram_quantile(0.95, sum by (le, app) (increase(hop3_deploy_probe_duration_seconds_bucket{${sel}}[$__range])))`, "{{app}} p95", "B"),
      ],
      options: { legend: { displayMode: "list", placement: "bottom", showLegend: true, calcs: [] }, tooltip: { mode: "multi", sort: "none" } },
      fieldConfig: { defaults: { unit: "s" }, overrides: [] },
    }),
    panel("timeseries", "Check durations", { x: 12, y: 44, w: 12, h: 7 }, {
      targets: [target(`hop3_health_check_duration_seconds{${sel}}`, "{{check}}")],
      options: { legend: { displayMode: "table", placement: "right", showLegend: true, calcs: ["lastNotNull", "max"] }, tooltip: { mode: "multi", sort: "desc" } },
      fieldConfig: { defaults: { unit: "s" }, overrides: [] },
    }),
  );

  // The severity of every check over time, and how often checks changed.
  const timeline: TimelineOptions = {
    showValue: VisibilityMode.Never,
    rowHeight: 0.9,
    mergeValues: true,
    alignValue: "left",
    // The panel config's types import their own copy of these enums from @grafana/schema.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
    legend: { displayMode: LegendDisplayMode.List, placement: "bottom", showLegend: true, calcs: [] },
    tooltip: { mode: TooltipDisplayMode.Single, sort: SortOrder.None },
  };
  panels.push(
    panel("state-timeline", "Severity timeline", { x: 0, y: 51, w: 18, h: 10 }, {
      targets: [target(`hop3_health_severity{${sel}}`, "{{check}}")],
      options: timeline as unknown as Record<string, unknown>,
      fieldConfig: { defaults: { mappings: SEVERITY_MAPPINGS, thresholds: SEVERITY_THRESHOLDS, color: { mode: FieldColorModeId.Thresholds } }, overrides: [] },
    }),
    panel("stat", "Severity changes in the time range", { x: 18, y: 51, w: 6, h: 10 }, {
      targets: [target(`sum(increase(hop3_health_transitions_total{${sel}}[$__range]))`, "changes", "A", true)],
      options: statOptions({ textMode: BigValueTextMode.Value, colorMode: BigValueColorMode.None }) as unknown as Record<string, unknown>,
      fieldConfig: { defaults: { decimals: 0 }, overrides: [] },
    }),
  );

  // Restart policies: what they did per app, and the apps they gave up on.
  panels.push(
    panel("bargauge", "Restarts by policy in the time range", { x: 0, y: 61, w: 12, h: 6 }, {
      description: "Restarts the restart policy made of each app, by what came of them: recovered, failing (the next try followed), gave_up.",
      targets: [target(`sum by (app, result) (increase(hop3_app_restarts_total{${sel}}[$__range]))`, "{{app}} {{result}}", "A", true)],
      options: { orientation: "horizontal", displayMode: "basic", showUnfilled: true, reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false } },
      fieldConfig: {
        defaults: { decimals: 0, min: 0, color: { mode: FieldColorModeId.Fixed, fixedColor: "blue" } },
        overrides: [
          { matcher: { id: "byRegexp", options: ".* recovered" }, properties: [{ id: "color", value: { mode: FieldColorModeId.Fixed, fixedColor: GREEN } }] },
          { matcher: { id: "byRegexp", options: ".* (failing|gave_up)" }, properties: [{ id: "color", value: { mode: FieldColorModeId.Fixed, fixedColor: RED } }] },
        ],
      },
    }),
    panel("stat", "Restart policy", { x: 12, y: 61, w: 12, h: 6 }, {
      description: "Per app under a restart policy: trying (a next try is due), or gave up (hop3-health restarts reset <app> lets it act again).",
      targets: [target(`hop3_app_restart_gave_up{${sel}} * 2 + on (job, instance, hop3_server, app) (count by (job, instance, hop3_server, app) (hop3_app_restart_next_seconds{${sel}}) or hop3_app_restart_gave_up{${sel}} * 0)`, "{{app}}", "A", true)],
      options: statOptions() as unknown as Record<string, unknown>,
      fieldConfig: {
        defaults: {
          mappings: [{ type: MappingType.ValueToText, options: { "0": { text: "✓ nothing to do", color: GREEN, index: 0 }, "1": { text: "⚠ restarting", color: YELLOW, index: 1 }, "2": { text: "✗ gave up", color: RED, index: 2 } } }],
          color: { mode: FieldColorModeId.Thresholds },
          thresholds: { mode: ThresholdsMode.Absolute, steps: [{ color: GREEN, value: null }, { color: YELLOW, value: 1 }, { color: RED, value: 2 }] },
        },
        overrides: [],
      },
    }),
  );

  return dashboard({
    uid: "hop3-health",
    title: "Hop3 health",
    description: "The hop3-health report of a Hop3 server: services, backing services, filesystem, configuration, certificates, apps and jobs.",
    variables: [
      DATASOURCE_VARIABLE,
      {
        type: "query",
        name: "instance",
        label: "Hop3 server",
        datasource: DATASOURCE,
        query: { query: "label_values(hop3_server_info, instance)", refId: "instance" },
        refresh: VariableRefresh.onTimeRangeChanged,
        sort: VariableSort.alphabeticalAsc,
        multi: false,
        includeAll: false,
        skipUrlSync: false,
      },
    ],
    panels,
  });
}

export const DATASOURCE_VARIABLE: VariableModel = {
  type: "datasource",
  name: "datasource",
  label: "Data source",
  query: "prometheus",
  refresh: VariableRefresh.onDashboardLoad,
  skipUrlSync: false,
};

/** What every hop3-health dashboard shares: tags, 6 hours, a 30-second refresh. */
export function dashboard(parts: { uid: string; title: string; description: string; variables: VariableModel[]; panels: Panel[] }): Dashboard {
  return {
    uid: parts.uid,
    title: parts.title,
    description: parts.description,
    tags: ["hop3", "hop3-health"],
    editable: true,
    graphTooltip: DashboardCursorSync.Crosshair,
    schemaVersion: 39,
    version: 1,
    time: { from: "now-6h", to: "now" },
    timepicker: { refresh_intervals: ["30s", "1m", "5m", "15m"] },
    timezone: "browser",
    refresh: "30s",
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: "",
    links: [],
    annotations: { list: [] },
    templating: { list: parts.variables },
    panels: parts.panels,
  };
}

/** The file as committed: stable key order, two-space indentation, a final newline. */
export function dashboardJson(built: Dashboard = buildDashboard()): string {
  return `${JSON.stringify(built, null, 2)}\n`;
}

