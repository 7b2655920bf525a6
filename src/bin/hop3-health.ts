#!/usr/bin/env node
// The `hop3-health` command: runs the program bundled in program.cjs beside it (src/bin/program.ts).
// Built as CommonJS (dist/bin/hop3-health.cjs): Node starts a CommonJS main module some 8 ms sooner
// than an ES module, whose loader it then need not load at all.

import { fileURLToPath } from "node:url";
import { loadProgram } from "./program.js";

loadProgram(fileURLToPath(new URL("./program.cjs", import.meta.url))).run();
