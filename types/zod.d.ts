// The types of #zod (package.json "imports"): zod's own.
export * from "zod";
