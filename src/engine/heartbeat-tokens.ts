// A secret per job, healthchecks.io-style: a job reports in on its own ping URL
// (/api/v1/heartbeats/<id>/<token>), so it needs no operator credentials and cannot report for
// another job. Made the first time a job is configured, kept in the state directory (0600), shown
// by `hop3-health heartbeats`.

import { randomBytes, timingSafeEqual } from "node:crypto";
import { readStateFile, writeJsonAtomic } from "./state-file.js";

const MAX_FILE = 1 << 20;

export class HeartbeatTokens {
  private tokens: Record<string, string> = {};

  constructor(readonly file: string) {}

  /** Reads the file (a missing one is empty); with `create`, makes and saves a token for each id that has none. */
  load(ids: readonly string[], create: boolean): void {
    let saved: Record<string, unknown> = {};
    try {
      saved = JSON.parse(readStateFile(this.file, MAX_FILE)) as Record<string, unknown>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" && !create) throw error;
    }
    const tokens: Record<string, string> = {};
    for (const [id, token] of Object.entries(saved)) if (typeof token === "string" && /^[A-Za-z0-9_-]{16,}$/.test(token)) tokens[id] = token;
    const missing = create ? ids.filter((id) => tokens[id] === undefined) : [];
    for (const id of missing) tokens[id] = randomBytes(18).toString("base64url");
    this.tokens = tokens;
    if (missing.length > 0) writeJsonAtomic(this.file, tokens, 0o600);
  }

  tokenOf(id: string): string | undefined {
    return this.tokens[id];
  }

  /** Whether `token` is the job's own, compared in constant time. */
  verify(id: string, token: string): boolean {
    const own = this.tokens[id];
    if (own === undefined) return false;
    const a = Buffer.from(own);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Every token, for the redactor: a ping URL in a log line is masked. */
  all(): string[] {
    return Object.values(this.tokens);
  }
}
