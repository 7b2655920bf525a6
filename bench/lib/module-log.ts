// `node --import dist/bench/lib/module-log.js ...`: writes to MODULE_LOG every module the ES
// module loader loads (a CommonJS package's own require()s are not seen, only its entry), and at
// exit the process's peak RSS, so that a benchmark can say what each command loads.

import { appendFileSync } from "node:fs";
import { register } from "node:module";

const log = process.env.MODULE_LOG;
if (log) {
  register("./module-log-hooks.js", import.meta.url);
  process.on("exit", () => appendFileSync(log, `maxrss ${process.resourceUsage().maxRSS}\n`));
}
