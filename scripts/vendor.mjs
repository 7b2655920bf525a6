// Builds dist/vendor/zod.js, the zod that hop3-health runs with (package.json "imports" maps
// #zod to it): zod in one module, with English messages only. Loaded as npm ships it, zod is
// 95 modules, 64 of them translations never used here, and costs every command 100 ms of
// start-up; this file costs 40 (bench/startup.ts prints both). Types still come from zod itself.

import { copyFileSync } from "node:fs";
import { build } from "esbuild";

await build({
  stdin: { contents: 'export * from "zod";', resolveDir: process.cwd(), sourcefile: "zod-entry.js" },
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outfile: "dist/vendor/zod.js",
  legalComments: "none",
  // Whitespace and comments out (half the size, less to parse at every start); names kept.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
  plugins: [
    {
      name: "english-only",
      setup(build) {
        build.onResolve({ filter: /\/locales\/index\.js$/ }, () => ({ path: "locales", namespace: "english-only" }));
        build.onLoad({ filter: /.*/, namespace: "english-only" }, () => ({
          contents: 'export { default as en } from "zod/v4/locales/en.js";',
          resolveDir: process.cwd(),
        }));
      },
    },
  ],
});
copyFileSync("node_modules/zod/LICENSE", "dist/vendor/zod.LICENSE");
