// import() of an ES module named at run time: a plugin's file or package, and #zod-classic.
//
// The shipped program is one CommonJS script compiled from V8's code cache (src/bin/program.ts),
// and in Node 20 a function that comes from a code cache cannot import(): Node finds no loader for
// it ("A dynamic import callback was not specified"). The command hands the program an import() of
// its own, made in an ES module, as the parameter __hop3_import of the script's wrapper; here, in
// tsc's output and in the tests, there is none, and import() is the language's own. The drivers and
// the other packages are CommonJS, which the bundle require()s.

declare const __hop3_import: ((specifier: string) => Promise<unknown>) | undefined;

export function importModule(specifier: string): Promise<unknown> {
  return typeof __hop3_import === "function" ? __hop3_import(specifier) : import(specifier);
}
