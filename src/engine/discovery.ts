// Asks every plugin for its checks, each cycle, so checks that come and go (apps, certificates)
// are seen without a restart. A plugin that breaks becomes a failing check `plugin:<name>`.

import type { HealthCheck, PluginContext } from "../health/model.js";
import type { LoadedPlugin, PluginFailure } from "./plugins.js";
import { formatSeconds } from "../lib/format.js";
import { errorMessage } from "../lib/errors.js";

export function pluginFailureCheck(name: string, message: string): HealthCheck {
  return {
    id: `plugin:${name}`,
    name: `Plugin ${name}`,
    section: "Configuration",
    isConfigured: () => true,
    check: () => Promise.resolve({ name: `Plugin ${name}`, passed: false, message }),
  };
}

export async function discoverChecks(
  plugins: readonly LoadedPlugin[],
  failures: readonly PluginFailure[],
  ctx: PluginContext,
  timeoutSeconds: number,
): Promise<HealthCheck[]> {
  const lists = await Promise.all(plugins.map((loaded) => checksOf(loaded, ctx, timeoutSeconds)));
  const checks: HealthCheck[] = [];
  const owner = new Map<string, string>();
  const problems = new Map<string, string[]>(failures.map((f) => [f.name, [f.message]]));
  const complain = (pluginName: string, message: string): void => {
    problems.set(pluginName, [...(problems.get(pluginName) ?? []), message]);
  };

  plugins.forEach((loaded, index) => {
    const list = lists[index]!;
    if (typeof list === "string") {
      complain(loaded.plugin.name, list);
      return;
    }
    for (const check of list) {
      const problem = shapeProblem(check);
      if (problem) {
        complain(loaded.plugin.name, problem);
        continue;
      }
      const taken = owner.get(check.id);
      if (taken !== undefined) {
        complain(loaded.plugin.name, `check id "${check.id}" is already taken by plugin ${taken}`);
        continue;
      }
      owner.set(check.id, loaded.plugin.name);
      checks.push(check);
    }
  });
  for (const [name, messages] of problems) checks.push(pluginFailureCheck(name, messages.join("; ")));
  return checks;
}

/** The plugin's checks, or why it could not give them. */
async function checksOf(loaded: LoadedPlugin, ctx: PluginContext, timeoutSeconds: number): Promise<HealthCheck[] | string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const listing = Promise.resolve().then(() => loaded.plugin.getHealthChecks(ctx));
    listing.catch(() => undefined);
    const deadline = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`getHealthChecks() timed out after ${formatSeconds(timeoutSeconds)}`), timeoutSeconds * 1000);
    });
    const list = await Promise.race([listing, deadline]);
    if (typeof list === "string") return list;
    if (!Array.isArray(list)) return `getHealthChecks() returned ${typeof list}, not a list of checks`;
    return list;
  } catch (error) {
    return `getHealthChecks() raised: ${errorMessage(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

function shapeProblem(check: unknown): string | null {
  if (typeof check !== "object" || check === null) return "a check must be an object";
  const c = check as Partial<HealthCheck>;
  if (typeof c.id !== "string" || c.id === "") return "a check has no id";
  for (const key of ["name", "section"] as const) {
    if (typeof c[key] !== "string" || c[key] === "") return `check "${c.id}" has no ${key}`;
  }
  for (const key of ["isConfigured", "check"] as const) {
    if (typeof c[key] !== "function") return `check "${c.id}" has no ${key}() function`;
  }
  return null;
}
