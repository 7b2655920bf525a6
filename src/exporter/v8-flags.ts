// V8 set for a daemon that is idle most of the time. The optimising (TurboFan) and baseline
// (Sparkplug) compilers cost serve 10 MB of RSS, their code and their threads' memory, to speed
// up work of milliseconds a cycle; and a heap let grow before it is collected holds 4 MB of
// garbage. Node takes none of these flags from NODE_OPTIONS, so `serve` sets them before its
// modules load (compiling them, and Node's own loader, is what pulls the compilers in). A flag
// given on node's command line (`node --opt ...`) wins. bench/serve-memory.ts measures it.

import { setFlagsFromString } from "node:v8";

export const LEAN_V8_FLAGS = ["--no-opt", "--no-sparkplug", "--optimize-for-size"] as const;

/** `--no-opt` and `--opt` alike name "opt". */
const named = (flag: string): string => flag.replace(/^--(no-)?/, "").replaceAll("_", "-");
const givenByOperator = (flag: string): boolean => process.execArgv.some((given) => named(given) === named(flag));

export function leanV8(): void {
  for (const flag of LEAN_V8_FLAGS) if (!givenByOperator(flag)) setFlagsFromString(flag);
}

/**
 * Work that is hot CPU by nature needs the optimising compiler back: bcrypt in JavaScript takes
 * 1.3 s a comparison in the interpreter and 70 ms once optimised (basic auth).
 */
export function optimisingCompilerNeeded(): void {
  if (!givenByOperator("--opt")) setFlagsFromString("--opt");
}
