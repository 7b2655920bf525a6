// Basic authentication with bcrypt hashes, as Prometheus' exporter-toolkit does it: every
// endpoint, and a small cache of verified credentials so scrapes do not each pay for bcrypt.

import { createHash } from "node:crypto";
import type { RequestHandler } from "express";
import { send } from "./http.js";

export interface BasicAuth {
  check(header: string | undefined): Promise<boolean>;
}

const CACHE_LIMIT = 1000;
/**
 * bcrypt comparisons are CPU work on the one thread that also answers scrapes: at most this many
 * a second (a burst of as many) for credentials not seen before. Past that, a request is refused
 * without one (and not remembered), so a flood of wrong passwords costs a bounded share of the
 * CPU and valid scrapes, answered from the cache, stay fast.
 */
const COMPARES_PER_SECOND = 4;

export function createBasicAuth(users: Record<string, string>): BasicAuth | null {
  if (Object.keys(users).length === 0) return null;
  // A Map: "__proto__" or "constructor" is then a user like any other (unknown), not a 500.
  const hashes = new Map(Object.entries(users));
  const verified = new Map<string, boolean>();
  let tokens = COMPARES_PER_SECOND;
  let refilledAt = Date.now();
  const mayCompare = (): boolean => {
    const now = Date.now();
    tokens = Math.min(COMPARES_PER_SECOND, tokens + ((now - refilledAt) / 1000) * COMPARES_PER_SECOND);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
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
      // Too many new credentials at once: refused, and not remembered (they were not checked).
      if (!mayCompare()) return false;
      // bcrypt is loaded by the first comparison: an exporter without basic auth never needs it.
      const { default: bcrypt } = await import("bcryptjs");
      const ok = (await bcrypt.compare(password, hash ?? DUMMY_HASH)) && hash !== undefined;
      if (verified.size >= CACHE_LIMIT) verified.delete(verified.keys().next().value!);
      verified.set(key, ok);
      return ok;
    },
  };
}

/** Every request past basic auth, or 401 with the challenge. */
export function requireBasicAuth(auth: BasicAuth): RequestHandler {
  return async (req, res, next) => {
    if (await auth.check(req.headers.authorization)) {
      next();
      return;
    }
    send(res, 401, "text/plain; charset=utf-8", "Unauthorized\n", { "www-authenticate": 'Basic realm="hop3-health", charset="UTF-8"' });
  };
}

/** bcrypt of a random string, for comparisons against unknown users. */
const DUMMY_HASH = "$2b$10$CMdXX7GUY94aep/06QMsLuqGhBZsj7YVwDzs0h44jFeUgdNtwbO0a";
