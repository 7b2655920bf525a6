// The NODE_OPTIONS that deploy/hop3-health.service runs the exporter with, so that benchmarks
// measure it as it runs on a server.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function unitNodeOptions(): string {
  const unit = readFileSync(fileURLToPath(new URL("../../../deploy/hop3-health.service", import.meta.url)), "utf8");
  return /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(unit)?.[1]?.trim() ?? "";
}
