// Basic authentication with bcrypt hashes, as Prometheus' exporter-toolkit does it: every
// endpoint, and a small cache of verified credentials so scrapes do not each pay for bcrypt. A
// bcrypt comparison is CPU work: at most two run at once, and when many wrong passwords queue up,
// the newest are turned away at once rather than slowing the scrapes down.

import { createHash } from "node:crypto";
import bcrypt from "bcryptjs";

export interface BasicAuth {
  check(header: string | undefined): Promise<boolean>;
}

const CACHE_LIMIT = 1000;
/** bcrypt comparisons at once, and waiting for a turn; past that, a request is refused without one. */
const COMPARING = 2;
const WAITING = 16;

export function createBasicAuth(users: Record<string, string>): BasicAuth | null {
  if (Object.keys(users).length === 0) return null;
  // A Map: "__proto__" or "constructor" is then a user like any other (unknown), not a 500.
  const hashes = new Map(Object.entries(users));
  const verified = new Map<string, boolean>();
  let comparing = 0;
  const queue: Array<() => void> = [];
  const turn = async <T>(work: () => Promise<T>): Promise<T | undefined> => {
    if (comparing >= COMPARING) {
      if (queue.length >= WAITING) return undefined;
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    comparing++;
    try {
      return await work();
    } finally {
      comparing--;
      queue.shift()?.();
    }
  };
  return {
    async check(header) {
      const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? "");
      if (!match) return false;
      const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) return false;
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const hash = hashes.get(user);
      // An unknown user costs a bcrypt comparison too, so timing does not tell which users exist.
      const key = createHash("sha256").update(`${user}\0${password}\0${hash ?? ""}`).digest("hex");
      const cached = verified.get(key);
      if (cached !== undefined) return cached;
      const compared = await turn(() => bcrypt.compare(password, hash ?? DUMMY_HASH));
      // Too many comparisons waiting: refused, and not remembered (it was not checked).
      if (compared === undefined) return false;
      const ok = compared && hash !== undefined;
      if (verified.size >= CACHE_LIMIT) verified.delete(verified.keys().next().value!);
      verified.set(key, ok);
      return ok;
    },
  };
}

/** bcrypt of a random string, for comparisons against unknown users. */
const DUMMY_HASH = "$2b$10$CMdXX7GUY94aep/06QMsLuqGhBZsj7YVwDzs0h44jFeUgdNtwbO0a";
