// The end-to-end tests run the built binary: build it once before any test.

import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const repo = fileURLToPath(new URL("../", import.meta.url));
  // From clean, so that a module removed from checks/ does not linger in dist/checks/.
  rmSync(`${repo}dist`, { recursive: true, force: true });
  execFileSync(process.execPath, [`${repo}node_modules/typescript/bin/tsc`, "-p", "tsconfig.build.json"], { cwd: repo, stdio: "inherit" });
}
