// Builds the program as it ships, from tsc's output in dist/src and dist/checks:
// - dist/bin/program.cjs: the whole program, one CommonJS script (src/cli.ts and all it imports,
//   the built-in checks, smol-toml and #zod). A command's own modules and the packages it alone
//   uses (express, prom-client, pino, the drivers...) still run only when it does: esbuild turns
//   each import() into a function called then, and the packages stay packages, require()d there.
// - dist/bin/program.cjs.cache: V8's code cache of it, from a run of `status` on a made-up server
//   (scripts/code-cache.mjs).
// - dist/bin/hop3-health.cjs: the command, which loads the two (src/bin/program.ts).
// The tests run against it. The built-in checks are part of it (src/engine/builtin-checks.ts,
// replaced here by the list of checks/ as it is now).

import { copyFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";
import { PROGRAM_PARAMETERS } from "../dist/src/bin/program.js";
import { makeCodeCache } from "./code-cache.mjs";

// smol-toml (read by every command that reads Hop3's files) and #zod (every command that reads a
// config) go in; the other dependencies stay packages, loaded where they are used, and so does
// #zod-classic (290 KB, for a plugin whose settings are a function).
const INSIDE = ["smol-toml", "#zod"];
const { dependencies } = JSON.parse(readFileSync("package.json", "utf8"));
const external = [...Object.keys(dependencies).filter((name) => !INSIDE.includes(name)), "#zod-classic"];

const checks = readdirSync("dist/checks")
  .filter((name) => name.endsWith(".js"))
  .sort();

// import.meta.url (the version's package.json, createRequire) is the script's own.
const define = { "import.meta.url": "__import_meta_url" };
// "use strict" first, where it counts: the program was ES modules, which are strict.
const banner = { js: '"use strict";var __import_meta_url = require("node:url").pathToFileURL(__filename).href;' };
const common = { bundle: true, platform: "node", target: "node20", legalComments: "none", logLevel: "warning", minifyWhitespace: true, minifySyntax: true };

// From clean: a file of an earlier build would otherwise stay beside the new ones.
rmSync("dist/bin", { recursive: true, force: true });
const { metafile } = await build({
  ...common,
  metafile: true,
  entryPoints: { program: "dist/src/cli.js" },
  outExtension: { ".js": ".cjs" },
  outdir: "dist/bin",
  format: "cjs",
  // Every import() a require(): a function from V8's code cache cannot import() in Node 20. What
  // must be an ES module import (a plugin, #zod-classic) goes through src/lib/import-module.ts.
  supported: { "dynamic-import": false },
  external,
  define,
  // The file is the function src/bin/program.ts compiles and calls (its PROGRAM_PARAMETERS).
  banner: { js: `(function (${PROGRAM_PARAMETERS.join(", ")}) {${banner.js}` },
  footer: { js: "})" },
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
await build({ ...common, entryPoints: { "hop3-health": "dist/src/bin/hop3-health.js" }, outExtension: { ".js": ".cjs" }, outdir: "dist/bin", format: "cjs", define, banner });
copyFileSync("node_modules/smol-toml/LICENSE", "dist/bin/smol-toml.LICENSE");

// A package the program imports and package.json lists only for development would be bundled in
// here, and missing from an installation (npm installs no devDependencies): refused.
const strays = [...new Set(Object.keys(metafile.inputs).flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? []))].filter((name) => !INSIDE.includes(name));
if (strays.length > 0) throw new Error(`the program imports ${strays.join(", ")}, which package.json does not list in "dependencies"`);

// Non-ASCII anywhere would make V8 hold the whole source as two bytes a character (esbuild escapes
// it in strings, not in a regular expression).
if (/[^\t\n\r\x20-\x7e]/.test(readFileSync("dist/bin/program.cjs", "latin1"))) throw new Error("dist/bin/program.cjs: a character that is not ASCII (in a regular expression? write it \\u2014)");

await makeCodeCache("dist/bin/program.cjs");
