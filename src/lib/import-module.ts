// import() of an ES module named at run time: a plugin's file or package, and #zod-classic.
//
// The shipped program is one script compiled by vm.Script from V8's code cache (src/bin/program.ts),
// and in Node 20 such a script's import() needs a loader Node calls experimental, which a function
// from a code cache loses anyway ("A dynamic import callback was not specified"). The command, a
// module Node loaded itself, hands the program its own import() as the parameter __hop3_import of
// the script's wrapper; in tsc's output and in the tests there is none, and import() is the
// language's own. The drivers and the other packages are CommonJS, which the bundle require()s.

declare const __hop3_import: ((specifier: string) => Promise<unknown>) | undefined;

export function importModule(specifier: string): Promise<unknown> {
  return typeof __hop3_import === "function" ? __hop3_import(specifier) : import(specifier);
}
