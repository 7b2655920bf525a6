// Reading what Hop3 and its apps leave on disk, as untrusted input: only regular files, opened
// without blocking (a FIFO in place of a manifest must not hang a thread), never more than a
// stated size, and, for an app's files, never through a link that leads out of the app.

import { constants } from "node:fs";
import { open, realpath } from "node:fs/promises";
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

/** A small regular file's text, read without blocking on a FIFO or device and within a size. */
export async function readBoundedFile(file: string, options: ReadOptions): Promise<string> {
  if (options.within !== undefined) await assertWithin(file, options.within);
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new FileReadError(file, code, `cannot read ${file}: ${describeCode(code)}`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new FileReadError(file, "not-regular", `cannot read ${file}: not a regular file`);
    if (info.size > options.maxBytes) {
      throw new FileReadError(file, "too-large", `cannot read ${file}: ${info.size} bytes, more than the ${options.maxBytes} read at most`);
    }
    // Read one byte more than allowed, in case it grew since fstat.
    const buffer = Buffer.alloc(Math.min(options.maxBytes + 1, Math.max(info.size + 1, 1)));
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    if (length > options.maxBytes) throw new FileReadError(file, "too-large", `cannot read ${file}: more than the ${options.maxBytes} bytes read at most`);
    return buffer.subarray(0, length).toString("utf8");
  } catch (error) {
    if (error instanceof FileReadError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new FileReadError(file, code, `cannot read ${file}: ${describeCode(code)}`);
  } finally {
    await handle.close();
  }
}

/** Refuses a file that, once links are resolved, is not inside `dir`. A missing file passes (open says so). */
async function assertWithin(file: string, dir: string): Promise<void> {
  let real: string;
  let realDir: string;
  try {
    [real, realDir] = await Promise.all([realpath(file), realpath(dir)]);
  } catch {
    return;
  }
  if (real !== realDir && !real.startsWith(realDir + path.sep)) {
    throw new FileReadError(file, "outside", `cannot read ${file}: it links outside ${dir} (not followed)`);
  }
}
