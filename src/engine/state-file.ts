// The files serve keeps in its state directory (event log, heartbeats, maintenance windows,
// heartbeat tokens), read and written so that whoever could plant something there cannot make
// serve follow a link, block on a FIFO, read /dev/zero or overwrite another file: opened with
// O_NOFOLLOW and O_NONBLOCK, accepted only as regular files, read with a byte limit, and replaced
// through a temporary file of an unpredictable name created with O_EXCL.

import { closeSync, constants, fchownSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { randomHex } from "../lib/random.js";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = constants;

/** An error with the code a caller reports ("ELOOP" for a link, "ENOTREG" for a FIFO or a device, "EFBIG"). */
function failure(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

function mustBeRegular(isFile: boolean, size: number, file: string, max: number): void {
  if (!isFile) throw failure("ENOTREG", `${file} is not a regular file`);
  if (size > max) throw failure("EFBIG", `${file} is larger than ${max} bytes`);
}

/** A state file's text: a regular file of at most `max` bytes, never through a link. Throws with `code` set. */
export function readStateFile(file: string, max: number): string {
  const fd = openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    mustBeRegular(stat.isFile(), stat.size, file, max);
    const buffer = Buffer.alloc(Math.min(stat.size, max) + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > max) throw failure("EFBIG", `${file} is larger than ${max} bytes`);
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the JSON to a temporary file beside `file` (a random name, created with O_EXCL, never
 * through a link), then renames it over: a reader never sees half of it, and a link planted at
 * `file` is replaced, not followed.
 */
export function writeJsonAtomic(file: string, value: unknown, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const temporary = `${file}.${randomHex(9)}.tmp`;
  const fd = openSync(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
    // Root writing for the exporter (a command run with sudo): the file stays the directory owner's, so the exporter can read it.
    if (process.getuid?.() === 0) {
      const owner = statSync(path.dirname(file));
      fchownSync(fd, owner.uid, owner.gid);
    }
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, file);
}

/** Opens a log file, never through a link and only a regular file: to read its tail, or to append (created with `mode` if missing). */
export async function openLog(file: string, how: "read" | "append", mode = 0o640): Promise<FileHandle> {
  const handle = await open(file, (how === "read" ? O_RDONLY : O_WRONLY | O_APPEND | O_CREAT) | O_NOFOLLOW | O_NONBLOCK, mode);
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw failure("ENOTREG", `${file} is not a regular file`);
  }
  return handle;
}

/** What a job or an operator said: one line, control characters out, at most `max` characters. */
export function oneLineOf(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is taken out
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, max);
}
