// Builds the program as it ships: dist/bin/hop3-health.js and its chunks, from tsc's output in
// dist/src and dist/checks. `status` then loads 15 modules instead of 64 (55 of its own and 9 of
// smol-toml), one by one through Node's ES module loader: 25 to 30 ms less for every `status`
// (bench/startup.ts). The tests run against it. The built-in checks are part of it
// (src/engine/builtin-checks.ts, replaced here by the list of checks/ as it is now).

import { copyFileSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";

// smol-toml (9 small modules, read by every command that reads Hop3's files) goes in; the other
// dependencies (drivers, prom-client, bcrypt, yaml) stay packages, loaded where they are used.
const INSIDE = "smol-toml";
const { dependencies } = JSON.parse(readFileSync("package.json", "utf8"));
const external = [...Object.keys(dependencies).filter((name) => name !== INSIDE), "#zod", "#zod-classic"];

const checks = readdirSync("dist/checks")
  .filter((name) => name.endsWith(".js"))
  .sort();

// From clean: a chunk of an earlier build would otherwise stay beside the new ones.
rmSync("dist/bin", { recursive: true, force: true });
const { metafile } = await build({
  metafile: true,
  entryPoints: { "hop3-health": "dist/src/cli.js" },
  outdir: "dist/bin",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external,
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
copyFileSync(`node_modules/${INSIDE}/LICENSE`, `dist/bin/${INSIDE}.LICENSE`);

// A package the program imports and package.json lists only for development would be bundled in
// here, and missing from an installation (npm installs no devDependencies): refused.
const strays = [...new Set(Object.keys(metafile.inputs).flatMap((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? []))].filter((name) => name !== INSIDE);
if (strays.length > 0) throw new Error(`the program imports ${strays.join(", ")}, which package.json does not list in "dependencies"`);
