// The types of #zod-classic (package.json "imports"): zod's classic API, as given to a plugin
// whose `settings` is a function.
export * from "zod";
