// Unpredictable names for files created with O_EXCL (a temporary file, a write probe), from the
// kernel's random source. Not node:crypto: loading it costs a one-shot command such as `status`
// about 8 ms (bench/startup.ts), for nine random bytes. Read 4 KiB at a time, as crypto's own
// pool is: the five write probes of a cycle then cost no system call of their own.

import { closeSync, openSync, readSync } from "node:fs";

const pool = Buffer.alloc(4096);
let used = pool.length;

/** `bytes` random bytes from /dev/urandom, as hex. */
export function randomHex(bytes: number): string {
  if (bytes > pool.length) throw new RangeError(`randomHex: at most ${pool.length} bytes`);
  if (used + bytes > pool.length) {
    const fd = openSync("/dev/urandom", "r");
    try {
      let filled = 0;
      while (filled < pool.length) filled += readSync(fd, pool, filled, pool.length - filled, null);
    } finally {
      closeSync(fd);
    }
    used = 0;
  }
  used += bytes;
  return pool.toString("hex", used - bytes, used);
}
