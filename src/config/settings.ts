// Validates each `[checks.<id>]` table: the common keys here, the rest by the schema the
// plugin that owns the id declares. An unknown key or a bad value is refused at start.

import type { CheckSettings, Plugin, SettingsSchema } from "../health/model.js";
import { didYouMean } from "../lib/suggest.js";
import { ConfigError } from "../lib/errors.js";
import { importModule } from "../lib/import-module.js";
import { formatIssues, knownKeysAt } from "./load.js";
import { commonCheckSettings, type Config } from "./schema.js";

export interface CheckSettingsResolver {
  settingsFor(id: string): CheckSettings;
  /** Ids of `[checks.<id>]` tables that name no known check (a typo, most likely). */
  unmatchedTables(knownIds: Iterable<string>): string[];
}

export async function resolveCheckSettings(
  config: Config,
  plugins: readonly Plugin[],
  originOf: (keyPath: readonly PropertyKey[]) => string,
): Promise<CheckSettingsResolver> {
  // zod's classic API, for a plugin whose settings are a function of it; loaded only then (290 KB:
  // hop3-health's own schemas use the lean zod/mini).
  const classic = plugins.some((p) => typeof p.settings === "function") ? ((await importModule("#zod-classic")) as typeof import("#zod-classic")).z : undefined;
  const schemas = new Map<string, SettingsSchema>();
  for (const plugin of plugins) {
    let declared: Record<string, SettingsSchema> | undefined;
    try {
      declared = typeof plugin.settings === "function" ? plugin.settings(classic!) : plugin.settings;
    } catch {
      // A plugin whose settings cannot be had takes only the common keys; its checks still run.
    }
    for (const [id, schema] of Object.entries(declared ?? {})) {
      if (!schemas.has(id)) schemas.set(id, schema);
    }
  }
  const schemaFor = (id: string): SettingsSchema | undefined => {
    const exact = schemas.get(id);
    if (exact) return exact;
    for (const [pattern, schema] of schemas) {
      if (pattern.endsWith("*") && id.startsWith(pattern.slice(0, -1))) return schema;
    }
    return undefined;
  };

  const validate = (id: string, table: Record<string, unknown>): CheckSettings => {
    const common: Record<string, unknown> = {};
    const own: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(table)) {
      (key in commonCheckSettings.shape ? common : own)[key] = value;
    }
    const keyPath = ["checks", id];
    const problems: string[] = [];
    const commonResult = commonCheckSettings.safeParse(common);
    if (!commonResult.success) problems.push(formatIssues(commonResult.error.issues, common, originOf, keyPath, (at) => knownKeysAt(commonCheckSettings, at)));

    let ownData: Record<string, unknown> = {};
    const schema = schemaFor(id);
    if (schema) {
      const ownResult = schema.safeParse(own);
      if (ownResult.success) ownData = ownResult.data as Record<string, unknown>;
      else {
        // Unknown keys are told apart from the common ones too: "timout" is close to "timeout".
        const known = [...Object.keys(commonCheckSettings.shape), ...(knownKeysAt(schema, []) ?? [])];
        problems.push(formatIssues(ownResult.error.issues as never, own, originOf, keyPath, () => known));
      }
    } else {
      // No check declares this table: most often its id is misspelled ([checks.postgres] for [checks.postgresql]).
      const table = didYouMean(id, [...schemas.keys()].filter((known) => !known.includes("*")));
      const tableHint = table === "" ? "" : ` — [checks.${id}] is no check's table: did you mean [checks.${table.replace(/^ \u2014 did you mean (.*)\?$/, "$1")}]?`;
      for (const key of Object.keys(own)) problems.push(`${originOf([...keyPath, key])}: unknown key checks.${id}.${key}${tableHint || didYouMean(key, Object.keys(commonCheckSettings.shape))}`);
    }
    if (problems.length > 0) throw new ConfigError(problems.join("\n"));
    return { ...ownData, ...(commonResult.data as CheckSettings) };
  };

  // Every table present is checked now, so that a bad one stops the start.
  const settings = new Map<string, CheckSettings>();
  const problems: string[] = [];
  for (const [id, table] of Object.entries(config.checks)) {
    try {
      settings.set(id, validate(id, table));
    } catch (error) {
      if (error instanceof ConfigError) problems.push(error.message);
      else throw error;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join("\n"));

  return {
    settingsFor(id) {
      let found = settings.get(id);
      if (!found) {
        found = validate(id, {});
        settings.set(id, found);
      }
      return found;
    },
    unmatchedTables(knownIds) {
      const known = new Set(knownIds);
      return Object.keys(config.checks).filter((id) => !known.has(id) && !schemaFor(id));
    },
  };
}
