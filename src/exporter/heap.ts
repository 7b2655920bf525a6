// The heap between cycles. With `--expose-gc` on node's command line (the unit's and the image's
// NODE_OPTIONS, `npm start`: where the operator sees it), the heap is collected after a cycle once
// it has grown GROWTH past what was live after the last collection. Otherwise V8 lets the garbage
// of dozens of cycles pile up in the old generation before it collects on its own: 10 to 20 MB of
// RSS more for a daemon that is idle most of the time (bench/serve-memory.ts). A collection takes
// about 10 ms, every few minutes at the default interval. Without the flag, nothing is done.

import { getHeapStatistics } from "node:v8";

const GROWTH = 2 * 2 ** 20;

/** What to call after each cycle, or undefined when node was not started with --expose-gc. */
export function heapKeeper(): (() => void) | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return undefined;
  let live = getHeapStatistics().used_heap_size;
  return () => {
    if (getHeapStatistics().used_heap_size < live + GROWTH) return;
    gc();
    live = getHeapStatistics().used_heap_size;
  };
}
