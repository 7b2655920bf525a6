// Basic authentication with bcrypt hashes, as Prometheus' exporter-toolkit does it: every
// endpoint, and a small cache of verified credentials so scrapes do not each pay for bcrypt.

import { createHash } from "node:crypto";
import type { RequestHandler } from "express";
import { markAuthenticated } from "./authority.js";
import { send } from "./http.js";

export interface BasicAuth {
  /** Whether the Authorization header holds a user and password of the configuration; `address` is the client's, for its share of comparisons. */
  check(header: string | undefined, address?: string): Promise<boolean>;
}

/** Credentials remembered as refused: a flood of wrong ones evicts only each other. */
const REFUSED_LIMIT = 1000;
/** Credentials remembered as accepted: evicted only by other accepted ones, never by a flood of wrong ones. */
const ACCEPTED_LIMIT = 100;
/**
 * bcrypt comparisons are CPU work on the one thread that also answers scrapes: at most this many
 * a second (a burst of as many) for credentials not seen before, from one client address, and at
 * most GLOBAL_PER_SECOND in all. Past that, a request is refused without one (and not remembered),
 * so a flood of wrong passwords costs a bounded share of the CPU, cannot take another address's
 * share (Prometheus on another host gets its first comparison whatever a tenant on this one
 * sends), and valid scrapes, answered from the cache, stay fast.
 */
const PER_ADDRESS_PER_SECOND = 4;
const GLOBAL_PER_SECOND = 8;

class Bucket {
  private tokens: number;
  private refilledAt = Date.now();
  constructor(private readonly rate: number) {
    this.tokens = rate;
  }
  has(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
    return this.tokens >= 1;
  }
  take(): void {
    this.tokens -= 1;
  }
}

export function createBasicAuth(users: Record<string, string>): BasicAuth | null {
  if (Object.keys(users).length === 0) return null;
  // A Map: "__proto__" or "constructor" is then a user like any other (unknown), not a 500.
  const hashes = new Map(Object.entries(users));
  const accepted = new Map<string, true>();
  const refused = new Map<string, false>();
  const global = new Bucket(GLOBAL_PER_SECOND);
  const perAddress = new Map<string, Bucket>();
  const mayCompare = (address: string): boolean => {
    if (perAddress.size > 10_000) perAddress.clear();
    let own = perAddress.get(address);
    if (!own) perAddress.set(address, (own = new Bucket(PER_ADDRESS_PER_SECOND)));
    if (!own.has() || !global.has()) return false;
    own.take();
    global.take();
    return true;
  };
  const remember = <V extends boolean>(cache: Map<string, V>, limit: number, key: string, value: V): void => {
    if (cache.size >= limit) cache.delete(cache.keys().next().value!);
    cache.set(key, value);
  };
  return {
    async check(header, address = "") {
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
      if (accepted.has(key)) return true;
      if (refused.has(key)) return false;
      // Too many new credentials at once: refused, and not remembered (they were not checked).
      if (!mayCompare(address)) return false;
      // bcrypt is loaded by the first comparison: an exporter without basic auth never needs it.
      const { default: bcrypt } = await import("bcryptjs");
      const ok = (await bcrypt.compare(password, hash ?? DUMMY_HASH)) && hash !== undefined;
      if (ok) remember(accepted, ACCEPTED_LIMIT, key, true);
      else remember(refused, REFUSED_LIMIT, key, false);
      return ok;
    },
  };
}

/** Every request past basic auth, or 401 with the challenge. */
export function requireBasicAuth(auth: BasicAuth): RequestHandler {
  return async (req, res, next) => {
    if (await auth.check(req.headers.authorization, req.socket.remoteAddress)) {
      markAuthenticated(req);
      next();
      return;
    }
    send(res, 401, "text/plain; charset=utf-8", "Unauthorized\n", { "www-authenticate": 'Basic realm="hop3-health", charset="UTF-8"' });
  };
}

/** bcrypt of a random string, for comparisons against unknown users. */
const DUMMY_HASH = "$2b$10$CMdXX7GUY94aep/06QMsLuqGhBZsj7YVwDzs0h44jFeUgdNtwbO0a";
