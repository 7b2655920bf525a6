// `node --import dist/bench/lib/module-log.js ...`: writes to MODULE_LOG, at exit, every module
// loaded after it: each file Node's CommonJS loader read (the command, the packages' own files),
// each ES module the ES loader loaded (a plugin, #zod-classic), each of Node's built-in modules
// (as `node:name`), and the process's peak RSS, so that a benchmark can say what each command
// loads. hop3-health's own program is one script (dist/bin/program.cjs), compiled by the command.

import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";

const log = process.env.MODULE_LOG;
if (log) {
  register("./module-log-hooks.js", import.meta.url);
  // Node's own list of what it loaded (it has no type): "NativeModule <name>" for a built-in.
  const loaded = (): string[] => (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
  const builtinsBefore = loaded().length;
  const cjsBefore = new Set(Object.keys(createRequire(import.meta.url).cache));
  process.on("exit", () => {
    const builtins = loaded().slice(builtinsBefore).filter((entry) => entry.startsWith("NativeModule ")).map((entry) => `node:${entry.slice(13)}`);
    const files = Object.keys(createRequire(import.meta.url).cache).filter((file) => !cjsBefore.has(file));
    appendFileSync(log, [...builtins, ...files, `maxrss ${process.resourceUsage().maxRSS}`, ""].join("\n"));
  });
}
