// Builds the two zods hop3-health runs with (package.json "imports"), each one module with English
// messages only. Loaded as npm ships it, zod is 95 modules, 64 of them translations never used here.
// - dist/vendor/zod.js (#zod): the functions of zod/mini that hop3-health's own schemas use, listed
//   in types/zod.d.ts; the rest is left out. 47 KB, loaded by every command that reads a config.
// - dist/vendor/zod-classic.js (#zod-classic): zod's classic API whole (290 KB), given to a plugin
//   whose `settings` is a function, and loaded only then.
// bench/startup.ts prints what each command loads and costs. Types still come from zod itself.

import { copyFileSync, readFileSync } from "node:fs";
import { build } from "esbuild";

const valueExports = /^export \{[^}]+\} from "zod\/mini";$/m.exec(readFileSync("types/zod.d.ts", "utf8"))?.[0];
if (!valueExports) throw new Error('types/zod.d.ts: no line `export { ... } from "zod/mini";` to build #zod from');

const english = 'import { config } from "zod/mini"; import en from "zod/v4/locales/en.js"; config(en());';
const common = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
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
};

await build({ ...common, stdin: { contents: `${valueExports}\n${english}\n`, resolveDir: process.cwd(), sourcefile: "zod-entry.js" }, outfile: "dist/vendor/zod.js" });
await build({ ...common, stdin: { contents: 'export * from "zod";', resolveDir: process.cwd(), sourcefile: "zod-classic-entry.js" }, outfile: "dist/vendor/zod-classic.js" });
copyFileSync("node_modules/zod/LICENSE", "dist/vendor/zod.LICENSE");
