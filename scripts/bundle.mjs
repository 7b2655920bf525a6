// Builds the program as it ships: dist/bin/hop3-health.js and its chunks, from tsc's output in
// dist/src and dist/checks. One module per command and one for what they share, instead of the
// 60 modules that `status` would otherwise load one by one: 25 ms less for every `status`
// (bench/startup.ts). The built-in checks are part of it (src/engine/builtin-checks.ts, replaced
// here by the list of checks/ as it is now); packages, #zod and #zod-classic stay outside.

import { readdirSync } from "node:fs";
import { build } from "esbuild";

const checks = readdirSync("dist/checks")
  .filter((name) => name.endsWith(".js"))
  .sort();

await build({
  entryPoints: { "hop3-health": "dist/src/cli.js" },
  outdir: "dist/bin",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  external: ["#zod", "#zod-classic"],
  legalComments: "none",
  logLevel: "warning",
  plugins: [
    {
      name: "builtin-checks",
      setup(build) {
        build.onLoad({ filter: /[\\/]dist[\\/]src[\\/]engine[\\/]builtin-checks\.js$/ }, () => ({
          contents: [
            ...checks.map((name, i) => `import * as check${i} from "../../checks/${name}";`),
            `export const BUILTIN_CHECKS = [${checks.map((name, i) => `{ file: ${JSON.stringify(name)}, exports: check${i} }`).join(", ")}];`,
          ].join("\n"),
          resolveDir: "dist/src/engine",
        }));
      },
    },
  ],
});
