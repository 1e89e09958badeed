/**
 * Sliding-window failure counting, kept in the store (`auth_sign_in_failures`): on PostgreSQL every
 * replica sees the same counts, so a sign-in limit holds across replicas. A key is blocked while it
 * has `limit` failures within the last `windowMs`; it frees up as the oldest failure ages out.
 *
 *   const l = new SlidingWindowLimiter(() => db, "account", { limit: 5, windowMs: 300_000 });
 *   5 × l.fail("account:alice", t)  →  l.check("account:alice", t + 1) = { allowed: false, retryAfterMs: 299_999 }
 */
import type { Db } from "@/server/store/db";
import { ensureAuthSchema } from "./schema";

export interface LimitCheck {
  allowed: boolean;
  /** When blocked: how long until one more attempt is allowed. */
  retryAfterMs: number;
}

export class SlidingWindowLimiter {
  constructor(
    private readonly dbOf: () => Db,
    /** Which counter (`account`, `client`): limiters sharing a table keep apart. */
    private readonly scope: string,
    private readonly opts: { limit: number; windowMs: number },
  ) {}

  private get db(): Db {
    return ensureAuthSchema(this.dbOf());
  }

  /** Failure times within the window, oldest first. */
  private recent(key: string, now: number): number[] {
    return this.db
      .prepare<[string, string, number], { at: number }>("SELECT at FROM auth_sign_in_failures WHERE scope = ? AND subject = ? AND at > ? ORDER BY at, id")
      .all(this.scope, key, now - this.opts.windowMs)
      .map((r) => r.at);
  }

  check(key: string, now = Date.now()): LimitCheck {
    const list = this.recent(key, now);
    if (list.length < this.opts.limit) return { allowed: true, retryAfterMs: 0 };
    // The (length - limit + 1)-th oldest failure must age out for the count to drop below the limit.
    const oldest = list[list.length - this.opts.limit] ?? now;
    return { allowed: false, retryAfterMs: Math.max(1, oldest + this.opts.windowMs - now) };
  }

  /**
   * Counts an attempt now, before the slow part (the password hash) runs, if one is allowed: check
   * and count in one write transaction, so concurrent attempts — from any replica — each see the
   * ones before them, and the (limit + 1)-th parallel guess is refused. Settle afterwards: keep it
   * (a failure) or `release` it (a success).
   */
  reserve(key: string, now = Date.now()): LimitCheck {
    const db = this.db;
    return db
      .transaction(() => {
        const c = this.check(key, now);
        if (c.allowed) this.fail(key, now);
        return c;
      })
      .immediate();
  }

  /** Takes back one attempt reserved at `at` (it succeeded). */
  release(key: string, at: number): void {
    this.db
      .prepare(
        `DELETE FROM auth_sign_in_failures WHERE id = (
           SELECT id FROM auth_sign_in_failures WHERE scope = ? AND subject = ? AND at = ? ORDER BY id DESC LIMIT 1)`,
      )
      .run(this.scope, key, at);
  }

  /** Keys blocked now, with the time left (the admin page's list of locked accounts). */
  blocked(now = Date.now()): { key: string; retryAfterMs: number }[] {
    const keys = this.db
      .prepare<[string, number, number], { subject: string }>(
        "SELECT subject FROM auth_sign_in_failures WHERE scope = ? AND at > ? GROUP BY subject HAVING count(*) >= ? ORDER BY subject",
      )
      .all(this.scope, now - this.opts.windowMs, this.opts.limit);
    return keys.map((k) => ({ key: k.subject, retryAfterMs: this.check(k.subject, now).retryAfterMs }));
  }

  fail(key: string, now = Date.now()): void {
    const db = this.db;
    // Failures older than the window no longer count: forgetting them bounds the table under a spray of keys.
    db.prepare("DELETE FROM auth_sign_in_failures WHERE scope = ? AND at <= ?").run(this.scope, now - this.opts.windowMs);
    db.prepare("INSERT INTO auth_sign_in_failures (scope, subject, at) VALUES (?, ?, ?)").run(this.scope, key, now);
  }

  reset(key: string): void {
    this.db.prepare("DELETE FROM auth_sign_in_failures WHERE scope = ? AND subject = ?").run(this.scope, key);
  }
}

export interface SignInLimits {
  account: SlidingWindowLimiter;
  client: SlidingWindowLimiter;
  /** Runs `fn` in one write transaction of the limits' store (checks and reservations together). */
  atomically<T>(fn: () => T): T;
}

export const SIGN_IN_WINDOW_MS = 5 * 60_000;

/** The sign-in limits kept in the store `db()` answers (a function: the runtime builds its store after this). */
export function newSignInLimits(db: () => Db): SignInLimits {
  return {
    // 5 failures per account per 5 minutes: a password guesser gets 1,440 tries a day at most.
    account: new SlidingWindowLimiter(db, "account", { limit: 5, windowMs: SIGN_IN_WINDOW_MS }),
    // Per client address, looser: several operators may share one address (NAT, a jump host).
    client: new SlidingWindowLimiter(db, "client", { limit: 20, windowMs: SIGN_IN_WINDOW_MS }),
    atomically: (fn) => ensureAuthSchema(db()).transaction(fn).immediate(),
  };
}
