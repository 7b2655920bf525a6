// Finds and imports plugins: every module of the built-in checks/ folder, then each entry of
// the config's `plugins` and HOP3_HEALTH_PLUGINS (a folder of modules, one module, or an npm
// package). No list of plugins exists anywhere in the code.

import { existsSync, readFileSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isPlugin, type Plugin } from "../health/model.js";
import { BUILTIN_CHECKS } from "./builtin-checks.js";
import { ConfigError, errorMessage } from "../lib/errors.js";
import { importModule } from "../lib/import-module.js";

export interface LoadedPlugin {
  plugin: Plugin;
  /** Where it came from, for messages. */
  source: string;
}

/** A plugin that could not be loaded; it is reported as a failing check, not a crash. */
export interface PluginFailure {
  name: string;
  source: string;
  message: string;
}

export interface PluginSpec {
  spec: string;
  baseDir: string;
  origin: string;
}

/** The built-in checks/ folder, next to src/ (in the source tree and in tsc's output alike). */
export const BUILTIN_CHECKS_DIR = fileURLToPath(new URL("../../checks/", import.meta.url));

const MODULE_FILE = /\.(m?js|cjs|m?ts)$/;
const DECLARATION_FILE = /\.d\.m?ts$/;

/** The built-in checks come from `builtinDir` when given, else from the shipped program's own list, else from checks/. */
export async function loadPlugins(specs: readonly PluginSpec[], builtinDir?: string): Promise<{
  plugins: LoadedPlugin[];
  failures: PluginFailure[];
}> {
  const bundled = builtinDir === undefined ? BUILTIN_CHECKS : undefined;
  const files: string[] = bundled ? [] : await moduleFiles(builtinDir ?? BUILTIN_CHECKS_DIR);
  const packages: PluginSpec[] = [];

  for (const entry of specs) {
    const resolved = path.resolve(entry.baseDir, entry.spec);
    if (existsSync(resolved)) {
      files.push(...(statSync(resolved).isDirectory() ? await moduleFiles(resolved) : [resolved]));
    } else if (looksLikePath(entry.spec)) {
      throw new ConfigError(`${entry.origin}: plugin ${JSON.stringify(entry.spec)}: no such file or directory (${resolved})`);
    } else {
      packages.push(entry);
    }
  }

  const take = async (source: string, load: () => Promise<unknown>, fallbackName: string): Promise<LoadedPlugin | PluginFailure> => {
    try {
      const exported = await load();
      if (!isPlugin(exported)) return { name: fallbackName, source, message: `${source} is not a plugin: its default export needs a name and getHealthChecks()` };
      return { plugin: exported, source };
    } catch (error) {
      return { name: fallbackName, source, message: `could not load ${source}: ${errorMessage(error)}` };
    }
  };

  // Imported side by side (their files are read while others compile), kept in the order listed.
  const results = await Promise.all([
    ...(bundled ?? []).map(({ file, exports }) => take(file, () => Promise.resolve(defaultExport(exports)), file.replace(MODULE_FILE, ""))),
    ...files.map((file) => take(file, async () => defaultExport(await importModule(pathToFileURL(file).href)), path.basename(file).replace(MODULE_FILE, ""))),
    ...packages.map((entry) => take(`package ${entry.spec}`, async () => defaultExport(await importPackage(entry.spec, entry.baseDir)), entry.spec)),
  ]);
  const plugins: LoadedPlugin[] = [];
  const failures: PluginFailure[] = [];
  for (const result of results) {
    if ("plugin" in result) plugins.push(result);
    else failures.push(result);
  }
  return { plugins, failures };
}

async function moduleFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names
    .filter((name) => MODULE_FILE.test(name) && !DECLARATION_FILE.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith(".") || path.isAbsolute(spec) || spec.startsWith("~") || /\.(m?js|cjs|m?ts)$/.test(spec);
}

function defaultExport(module: unknown): unknown {
  return (module as { default?: unknown }).default;
}

/** An npm package: looked up in node_modules above the config's folder, the working directory, then as a bare import. */
async function importPackage(name: string, baseDir: string): Promise<unknown> {
  for (const from of [baseDir, process.cwd()]) {
    const entry = packageEntry(name, from);
    if (entry) return importModule(pathToFileURL(entry).href);
  }
  return importModule(name);
}

function packageEntry(name: string, from: string): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const packageDir = path.join(dir, "node_modules", name);
    const manifestFile = path.join(packageDir, "package.json");
    if (existsSync(manifestFile)) {
      const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { exports?: unknown; main?: string };
      return path.join(packageDir, exportedEntry(manifest.exports) ?? manifest.main ?? "index.js");
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The "." entry of a package.json `exports` field, under the import or default condition. */
function exportedEntry(exports: unknown): string | undefined {
  if (typeof exports === "string") return exports;
  if (typeof exports !== "object" || exports === null) return undefined;
  const map = exports as Record<string, unknown>;
  if ("." in map) return exportedEntry(map["."]);
  return exportedEntry(map.import ?? map.node ?? map.default);
}
