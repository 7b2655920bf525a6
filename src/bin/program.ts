// Loads the program: dist/bin/program.cjs, the whole of hop3-health bundled by scripts/bundle.mjs
// into one CommonJS script, compiled with the V8 code cache the build made beside it
// (program.cjs.cache) from a run of `status` on a made-up server. V8 then
// deserializes the bytecode of every function that run used instead of parsing 370 KB and
// compiling each function when first called: some 40 ms of every `status` (bench/startup.ts).
// Node 22 does this for modules (module.enableCompileCache); Node 20 has only vm.Script's.
//
// V8 refuses a cache made by another V8, with other flags or for a source of another length
// (script.cachedDataRejected), and the program is then compiled as usual. The cache is code: it
// sits with the program, as trusted as the program beside it, and only the build writes it,
// never a run.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import vm from "node:vm";

export interface Program {
  /** Whether V8 refused the cache (false too when there was none). */
  cacheRejected: boolean;
  /** Runs the program, as `node` runs a CommonJS main module. */
  run(): void;
  /** The code cache of everything compiled so far: what the build writes after its training run. */
  cache(): Buffer;
}

/**
 * The program file is the function a CommonJS module is wrapped in, with one parameter more: an
 * import() that works (src/lib/import-module.ts). The build wrote the wrapper in, so that the file
 * read is the script compiled, as is: no copy of 400 KB made at every start. It is ASCII only (the
 * build makes sure), which latin1 decodes at once.
 */
export const PROGRAM_PARAMETERS = ["exports", "require", "module", "__filename", "__dirname", "__hop3_import"] as const;

export function loadProgram(file: string, cachedData: Buffer | undefined = readCache(`${file}.cache`)): Program {
  const script = new vm.Script(readFileSync(file, "latin1"), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  return {
    cacheRejected: cachedData !== undefined && script.cachedDataRejected === true,
    run() {
      const main = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string, importModule: (specifier: string) => Promise<unknown>) => void;
      const module = { exports: {}, filename: file, id: ".", loaded: false };
      main.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file), (specifier) => import(specifier));
    },
    cache: () => script.createCachedData(),
  };
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}
