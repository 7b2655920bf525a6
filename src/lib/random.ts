// Unpredictable names for files created with O_EXCL (a temporary file, a write probe), from the
// kernel's random source. Not node:crypto: loading it costs a one-shot command such as `status`
// about 8 ms (bench/startup.ts), for nine random bytes.

import { closeSync, openSync, readSync } from "node:fs";

/** `bytes` random bytes from /dev/urandom, as hex. */
export function randomHex(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  const fd = openSync("/dev/urandom", "r");
  try {
    let filled = 0;
    while (filled < bytes) filled += readSync(fd, buffer, filled, bytes - filled, null);
  } finally {
    closeSync(fd);
  }
  return buffer.toString("hex");
}
