// The built-in checks as hop3-health ships: scripts/bundle.mjs replaces this module with one that
// imports every module of checks/, listed from the folder when it builds, so the shipped program
// is its own list and reads no folder. Run from the sources or from tsc's output, there is no list
// here, and plugins.ts reads the checks/ folder beside src/.

/** Each built-in check module's file name and what it exports; undefined: read the folder. */
export const BUILTIN_CHECKS: ReadonlyArray<{ file: string; exports: unknown }> | undefined = undefined;
