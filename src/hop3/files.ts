// Reading what Hop3 and its apps leave on disk, as untrusted input: only regular files, opened
// without blocking (a FIFO in place of a manifest must not hang a thread), never more than a
// stated size, and, for an app's files, never through a link that leads out of the app.

import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from "node:fs";
import path from "node:path";

/** Why a file could not be read, in words an operator can act on. */
export class FileReadError extends Error {
  override name = "FileReadError";
  constructor(
    readonly file: string,
    /** ENOENT, EACCES, … or one of "not-regular", "too-large", "outside". */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  get missing(): boolean {
    return this.code === "ENOENT" || this.code === "ENOTDIR";
  }

  get denied(): boolean {
    return this.code === "EACCES" || this.code === "EPERM";
  }
}

export const KiB = 1024;

function describeCode(code: string): string {
  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      return "not found";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ELOOP":
      return "a symbolic link (not followed)";
    case "EISDIR":
      return "a directory, not a file";
    default:
      return code;
  }
}

export interface ReadOptions {
  /** The most bytes read; a larger file is refused. */
  maxBytes: number;
  /** The file must be inside this directory once links are resolved (an app's own folder). */
  within?: string;
}

/** Linux's O_PATH (not in fs.constants): a descriptor that names a file without opening it for I/O. */
const O_PATH = 0o10000000;
const { O_RDONLY, O_NONBLOCK, O_NOCTTY } = constants;

/**
 * A small regular file's text, read without blocking on a FIFO or device and within a size.
 * The path is first opened with O_PATH, which opens nothing for reading: only once that
 * descriptor is known to be a regular file (and, with `within`, inside the app) is the very same
 * file opened to be read, through /proc/self/fd. A device a link points at (a watchdog, a tape)
 * is never opened, and a link swapped in between changes nothing.
 *
 * The system calls are synchronous: a few small files on the server's own disk, opened so that
 * none can block, cost microseconds each; through the thread pool, each call cost more to hand
 * over and back than to make, and file reads were a quarter of an idle exporter's CPU.
 */
export function readBoundedFile(file: string, options: ReadOptions): Promise<string> {
  // A failure is a rejection, as callers await it.
  return new Promise((resolve) => resolve(readBoundedFileSync(file, options)));
}

function readBoundedFileSync(file: string, options: ReadOptions): string {
  const fail = (error: unknown): FileReadError => {
    if (error instanceof FileReadError) return error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return new FileReadError(file, code, `cannot read ${file}: ${describeCode(code)}`);
  };
  let named: number;
  try {
    named = openSync(file, O_PATH);
  } catch (error) {
    throw fail(error);
  }
  let fd: number | undefined;
  try {
    const info = fstatSync(named);
    if (!info.isFile()) throw new FileReadError(file, "not-regular", `cannot read ${file}: not a regular file`);
    if (info.size > options.maxBytes) {
      throw new FileReadError(file, "too-large", `cannot read ${file}: ${info.size} bytes, more than the ${options.maxBytes} read at most`);
    }
    if (options.within !== undefined) assertWithin(named, file, options.within);
    fd = openSync(`/proc/self/fd/${named}`, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    // Read one byte more than allowed, in case it grew since fstat.
    const buffer = Buffer.allocUnsafe(Math.min(options.maxBytes + 1, Math.max(info.size + 1, 1)));
    let length = 0;
    for (;;) {
      const bytesRead = readSync(fd, buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    if (length > options.maxBytes) throw new FileReadError(file, "too-large", `cannot read ${file}: more than the ${options.maxBytes} bytes read at most`);
    return buffer.toString("utf8", 0, length);
  } catch (error) {
    throw fail(error);
  } finally {
    if (fd !== undefined) closeSync(fd);
    closeSync(named);
  }
}

/** Refuses a file (its O_PATH descriptor) that is not inside `dir` once links are resolved: where it is, the kernel says of the descriptor. */
function assertWithin(named: number, file: string, dir: string): void {
  const real = readlinkSync(`/proc/self/fd/${named}`).replace(/ \(deleted\)$/, "");
  const realDir = realpathSync.native(dir);
  if (real !== realDir && !real.startsWith(realDir + path.sep)) {
    throw new FileReadError(file, "outside", `cannot read ${file}: it links outside ${dir} (not followed)`);
  }
}
