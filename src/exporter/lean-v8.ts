// V8 set for a daemon that is idle most of the time (bench/serve-memory.ts measures it):
// - No optimising (TurboFan) or baseline (Sparkplug) compiler: their code and their threads'
//   memory cost serve 10 MB of RSS, to speed up work of milliseconds a cycle. Node takes none of
//   these flags from NODE_OPTIONS, so `serve` sets them before its modules load (compiling them,
//   and Node's own loader, is what pulls the compilers in). A flag given on node's command line
//   (`node --opt ...`) wins.
// - The heap collected after a cycle once it has grown 2 MiB past what was live after the last
//   collection: otherwise the garbage of dozens of cycles piles up in the old generation before
//   V8 collects it on its own, a 7 MB saw-tooth in RSS. A full collection takes 15 ms here.

import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export const LEAN_V8_FLAGS = ["--no-opt", "--no-sparkplug", "--optimize-for-size"] as const;
const GROWTH_BEFORE_COLLECTING = 2 * 2 ** 20;

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

/** What to call after each cycle: collects the heap when it has grown enough since the last time. */
export function heapKeeper(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  let live = getHeapStatistics().used_heap_size;
  return () => {
    if (getHeapStatistics().used_heap_size < live + GROWTH_BEFORE_COLLECTING) return;
    gc();
    live = getHeapStatistics().used_heap_size;
  };
}
