// The errors a command reports as a plain sentence, without a stack, and how any thrown value
// is said in words. Free of imports, so that the command line can tell errors apart without
// loading the modules that throw them.

/** Bad input that is not about the command line's shape: said as it is, without the usage text. */
export class InputError extends Error {
  override name = "InputError";
}

/** A configuration file or variable that cannot be used: said with where and which key. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** What went wrong, in words, whatever was thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === "string") return error;
  return describe(error);
}

/** A value that is not an error, shown as a person would read it. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return value.toString();
    case "bigint":
      return `${value}n`;
    case "object":
      try {
        return JSON.stringify(value);
      } catch {
        return "an object that cannot be shown";
      }
    default:
      return JSON.stringify(value);
  }
}
