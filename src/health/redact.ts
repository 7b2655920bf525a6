// Keeps secrets out of everything hop3-health prints, logs, labels, stores or serves. Linear in
// the text, whatever it holds: a scan, not a backtracking regular expression.

export type Redactor = (text: string) => string;

/** The most of a user or password looked at after a `scheme://`: a longer run is no credential. */
const MAX_USERINFO = 4096;
const SCHEME_CHAR = /[a-z0-9+.-]/i;

/** Where a run of credentials stops: white space, quotes and angle brackets. */
function ends(c: string): boolean {
  return c === " " || c === "\n" || c === "\t" || c === "\r" || c === '"' || c === "'" || c === "<" || c === ">" || c === "`";
}

/**
 * `scheme://user:password@host` → `scheme://user:***@host`, wherever it appears. The password may
 * hold anything up to the last `@` before the text ends (a `/` too, as in a URL a user mistyped);
 * the user part holds no `/`, `:` or `@`.
 */
export function maskUrlCredentials(text: string): string {
  let out = "";
  let from = 0;
  for (let at = text.indexOf("://"); at !== -1; at = text.indexOf("://", at + 3)) {
    // A scheme before it: letters, digits, + . - (looked at backwards, a few characters at most).
    let s = at;
    while (s > 0 && at - s < 32 && SCHEME_CHAR.test(text[s - 1]!)) s--;
    if (s === at || !/[a-z]/i.test(text[s]!)) continue;
    const start = at + 3;
    let colon = -1;
    let i = start;
    for (; i < text.length && i - start < MAX_USERINFO; i++) {
      const c = text[i]!;
      if (c === ":" || c === "/" || c === "@" || ends(c)) break;
    }
    if (text[i] !== ":") continue;
    colon = i;
    let lastAt = -1;
    for (i = colon + 1; i < text.length && i - colon < MAX_USERINFO; i++) {
      const c = text[i]!;
      if (ends(c)) break;
      if (c === "@") lastAt = i;
      // A second scheme: what follows is another URL.
      if (c === ":" && text.startsWith("://", i)) break;
    }
    if (lastAt === -1 || lastAt < from) continue;
    out += `${text.slice(from, colon + 1)}***`;
    from = lastAt;
    at = lastAt;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * A redactor that masks the given secret values (passwords, keys, tokens found in the
 * configuration and in Hop3's files) and the password part of any URL with credentials. Each
 * secret is masked as it is and as JSON writes it (with `"` and `\` escaped).
 */
export function makeRedactor(secrets: Iterable<string>): Redactor {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < 3) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  // Longest first, so a secret that contains another is masked whole.
  const values = [...forms].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = maskUrlCredentials(text);
    for (const value of values) if (out.includes(value)) out = out.split(value).join("***");
    return out;
  };
}

/** The most of a single string kept in a check's details or message. */
export const MAX_TEXT = 4000;

export function capText(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (cut at ${max} characters)`;
}

/**
 * A value reduced to plain JSON (what `toJSON` gives, URL objects as their href, null-prototype
 * objects as plain ones, a BigInt as its digits, a cycle or a function as nothing), then every
 * string in it redacted and capped. Whatever a check puts in its details can then be served,
 * stored and printed.
 */
export function redactDeep<T>(value: T, redact: Redactor): T {
  let plain: unknown;
  try {
    // undefined for a function or a symbol, whatever the types say.
    const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) as string | undefined;
    plain = json === undefined ? null : JSON.parse(json);
  } catch {
    plain = "[a value that cannot be shown]";
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return capText(redact(v));
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) out[redact(k)] = walk(inner);
      return out;
    }
    return v;
  };
  return walk(plain) as T;
}
