/**
 * Sliding-window failure counting, in memory (one dashboard process). A key is blocked while it
 * has `limit` failures within the last `windowMs`; it frees up as the oldest failure ages out.
 *
 *   const l = new SlidingWindowLimiter({ limit: 5, windowMs: 300_000 });
 *   5 × l.fail("account:alice", t)  →  l.check("account:alice", t + 1) = { allowed: false, retryAfterMs: 299_999 }
 */
export interface LimitCheck {
  allowed: boolean;
  /** When blocked: how long until one more attempt is allowed. */
  retryAfterMs: number;
}

export class SlidingWindowLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly opts: { limit: number; windowMs: number; maxKeys?: number }) {}

  private recent(key: string, now: number): number[] {
    const list = this.failures.get(key);
    if (!list) return [];
    const from = now - this.opts.windowMs;
    const kept = list.filter((t) => t > from);
    if (kept.length === 0) this.failures.delete(key);
    else if (kept.length !== list.length) this.failures.set(key, kept);
    return kept;
  }

  check(key: string, now = Date.now()): LimitCheck {
    const list = this.recent(key, now);
    if (list.length < this.opts.limit) return { allowed: true, retryAfterMs: 0 };
    // The (length - limit + 1)-th oldest failure must age out for the count to drop below the limit.
    const oldest = list[list.length - this.opts.limit] ?? now;
    return { allowed: false, retryAfterMs: Math.max(1, oldest + this.opts.windowMs - now) };
  }

  /**
   * Counts an attempt now, before the slow part (the password hash) runs, if one is allowed:
   * concurrent attempts each see the ones before them, so the (limit + 1)-th parallel guess is
   * refused. Settle afterwards: keep it (a failure) or `release` it (a success).
   */
  reserve(key: string, now = Date.now()): LimitCheck {
    const c = this.check(key, now);
    if (c.allowed) this.fail(key, now);
    return c;
  }

  /** Takes back one attempt reserved at `at` (it succeeded). */
  release(key: string, at: number): void {
    const list = this.failures.get(key);
    const i = list ? list.lastIndexOf(at) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.failures.delete(key);
  }

  /** Keys blocked now, with the time left (the admin page's list of locked accounts). */
  blocked(now = Date.now()): { key: string; retryAfterMs: number }[] {
    const out: { key: string; retryAfterMs: number }[] = [];
    for (const key of [...this.failures.keys()]) {
      const c = this.check(key, now);
      if (!c.allowed) out.push({ key, retryAfterMs: c.retryAfterMs });
    }
    return out;
  }

  fail(key: string, now = Date.now()): void {
    const list = this.recent(key, now);
    list.push(now);
    this.failures.delete(key);
    this.failures.set(key, list.slice(-this.opts.limit * 2));
    const max = this.opts.maxKeys ?? 10_000;
    // Bound memory under a spray of distinct keys: forget the least recently failed.
    while (this.failures.size > max) {
      const first = this.failures.keys().next();
      if (first.done) break;
      this.failures.delete(first.value);
    }
  }

  reset(key: string): void {
    this.failures.delete(key);
  }
}

export interface SignInLimits {
  account: SlidingWindowLimiter;
  client: SlidingWindowLimiter;
}

export const SIGN_IN_WINDOW_MS = 5 * 60_000;

export function newSignInLimits(): SignInLimits {
  return {
    // 5 failures per account per 5 minutes: a password guesser gets 1,440 tries a day at most.
    account: new SlidingWindowLimiter({ limit: 5, windowMs: SIGN_IN_WINDOW_MS }),
    // Per client address, looser: several operators may share one address (NAT, a jump host).
    client: new SlidingWindowLimiter({ limit: 20, windowMs: SIGN_IN_WINDOW_MS }),
  };
}
