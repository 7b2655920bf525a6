// The types of #zod (package.json "imports"): the functions of zod/mini that hop3-health uses, and
// only those. scripts/vendor.mjs builds dist/vendor/zod.js from the value export below, so a
// function used and not listed here is a type error, not a crash at run time.
export { _default, array, boolean, config, enum, int, literal, maxLength, maximum, minLength, minimum, NEVER, nullable, number, optional, pipe, positive, record, refine, regex, strictObject, string, superRefine, transform, union, unknown, url } from "zod/mini";
export type { infer, ZodMiniType } from "zod/mini";
export type * as core from "zod/v4/core";
