// A small glob for absolute paths: `*` and `?` within a path segment, `[...]` classes. Enough for
// "/home/hop3/nginx/ssl/*.crt" without a dependency.

import { readdir } from "node:fs/promises";
import path from "node:path";

const WILDCARD = /[*?[]/;

export function hasWildcard(pattern: string): boolean {
  return WILDCARD.test(pattern);
}

export async function glob(pattern: string): Promise<string[]> {
  const absolute = path.resolve(pattern);
  const { root } = path.parse(absolute);
  const segments = absolute.slice(root.length).split(path.sep).filter((s) => s !== "");
  let bases = [root];
  for (const segment of segments) {
    if (!hasWildcard(segment)) {
      bases = bases.map((base) => path.join(base, segment));
      continue;
    }
    const matcher = segmentRegExp(segment);
    const next: string[] = [];
    for (const base of bases) {
      let names: string[];
      try {
        names = await readdir(base);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (matcher.test(name) && !(name.startsWith(".") && !segment.startsWith("."))) next.push(path.join(base, name));
      }
    }
    bases = next;
  }
  return bases;
}

function segmentRegExp(segment: string): RegExp {
  let source = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else if (c === "[") {
      const end = segment.indexOf("]", i + 1);
      if (end === -1) source += "\\[";
      else {
        const body = segment.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\");
        source += `[${body}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}
