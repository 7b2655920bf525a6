// hop3-health's own version, from its package.json (found from here in src/ and in dist/ alike).

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function exporterVersion(): string {
  if (cached) return cached;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (manifest.name === "hop3-health") return (cached = manifest.version ?? "unknown");
    }
    if (path.dirname(dir) === dir) return (cached = "unknown");
  }
}
