// Keeps secrets out of everything hop3-health prints, logs, labels or serves.

/** `scheme://user:password@host` → `scheme://user:***@host`, wherever it appears in a text. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]*@/gi;

export type Redactor = (text: string) => string;

/**
 * A redactor that masks the given secret values (passwords, keys, tokens found in the
 * configuration) and the password part of any URL with credentials.
 */
export function makeRedactor(secrets: Iterable<string>): Redactor {
  // Longest first, so a secret that contains another is masked whole.
  const values = [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text.replace(URL_CREDENTIALS, "$1:***@");
    for (const value of values) out = out.split(value).join("***");
    return out;
  };
}

/** Masks only the password part of URLs: for text made before the configuration is known. */
export const maskUrlCredentials: Redactor = makeRedactor([]);

/** Applies a redactor to every string inside a JSON-like value. */
export function redactDeep<T>(value: T, redact: Redactor): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, redact)) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, redact);
    return out as T;
  }
  return value;
}
