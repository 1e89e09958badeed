/**
 * Exactly one driver per rollout when several replicas share one database: a lease row per rollout
 * (owner, expiry, fencing token). The owner renews before expiry; another replica takes over only
 * once it has expired, and every takeover increases the token. The engine appends its events with
 * its token, and the database refuses a stale or expired one inside the insert (migration 201's
 * trigger), so an owner that was paused past its lease and then resumes cannot write: it gets a
 * StaleFencingTokenError and must stop driving.
 *
 * Expiry is computed with the database's clock (clock_timestamp()), the one clock all replicas share;
 * their own clocks never enter into it.
 */
import type pg from "pg";
import type { NewEvent } from "../index";
import { inTransaction } from "./pool";

export interface RolloutLease {
  rolloutId: string;
  owner: string;
  /** Grows at every takeover; the events the owner appends carry it. */
  token: number;
  /** Milliseconds since the epoch, by the database's clock. */
  expiresAt: number;
}

export type LeaseAcquireResult = { ok: true; lease: RolloutLease; tookOver: boolean } | { ok: false; holder: RolloutLease };

interface LeaseRow {
  rollout_id: string;
  owner: string;
  token: number;
  expires_ms: number;
}

const RETURNING = "rollout_id, owner, token, (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms";

function toLease(r: LeaseRow): RolloutLease {
  return { rolloutId: r.rollout_id, owner: r.owner, token: r.token, expiresAt: r.expires_ms };
}

function checkLeaseMs(leaseMs: number): void {
  if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new Error(`lease length must be a positive integer of ms, got ${leaseMs}`);
}

/**
 * Takes the rollout's lease when it is free, expired, or already ours (then it is extended with the
 * same token). A new term (first acquire, takeover, re-acquire after expiry) gets token + 1. The row
 * is locked while deciding, so of two replicas racing for an expired lease exactly one wins.
 */
export async function acquireLease(pool: pg.Pool, rolloutId: string, owner: string, leaseMs: number): Promise<LeaseAcquireResult> {
  checkLeaseMs(leaseMs);
  const until = "clock_timestamp() + $3 * interval '1 millisecond'";
  try {
    const res = await inTransaction(pool, async (c): Promise<LeaseAcquireResult | null> => {
      const found = await c.query<LeaseRow & { live: boolean }>(
        `SELECT ${RETURNING}, expires_at > clock_timestamp() AS live FROM rollout_leases WHERE rollout_id = $1 FOR UPDATE`,
        [rolloutId],
      );
      const cur = found.rows[0];
      if (cur?.live && cur.owner !== owner) return { ok: false, holder: toLease(cur) };
      // A first term: of two concurrent first acquires, the second waits on the key, then inserts
      // nothing and is told who holds it (by the retry below).
      const r = !cur
        ? await c.query<LeaseRow>(
            `INSERT INTO rollout_leases (rollout_id, owner, token, acquired_at, expires_at)
             VALUES ($1, $2, 1, clock_timestamp(), ${until}) ON CONFLICT (rollout_id) DO NOTHING RETURNING ${RETURNING}`,
            [rolloutId, owner, leaseMs],
          )
        : await c.query<LeaseRow>(
            cur.live
              ? `UPDATE rollout_leases SET expires_at = ${until} WHERE rollout_id = $1 AND owner = $2 RETURNING ${RETURNING}`
              : // Conditional as well as locked: a term that changed meanwhile makes this a no-op (then the retry reports the holder).
                `UPDATE rollout_leases SET owner = $2, token = token + 1, acquired_at = clock_timestamp(), expires_at = ${until}
                 WHERE rollout_id = $1 AND token = $4 AND expires_at <= clock_timestamp() RETURNING ${RETURNING}`,
            cur.live ? [rolloutId, owner, leaseMs] : [rolloutId, owner, leaseMs, cur.token],
          );
      const row = r.rows[0];
      if (!row) return null;
      return { ok: true, lease: toLease(row), tookOver: !!cur && !cur.live && cur.owner !== owner };
    });
    return res ?? (await acquireLease(pool, rolloutId, owner, leaseMs));
  } catch (cause) {
    throw new Error(`could not acquire the lease of rollout ${rolloutId} for ${owner}`, { cause });
  }
}

export async function readLease(pool: pg.Pool, rolloutId: string): Promise<RolloutLease | null> {
  const r = await pool.query<LeaseRow>(`SELECT ${RETURNING} FROM rollout_leases WHERE rollout_id = $1`, [rolloutId]);
  return r.rows[0] ? toLease(r.rows[0]) : null;
}

/**
 * Extends the lease by `leaseMs` from now. Null when it is no longer ours to extend (expired, or
 * taken over): the caller must stop driving the rollout and may try acquireLease again, which
 * starts a new term with a new token.
 */
export async function renewLease(pool: pg.Pool, lease: RolloutLease, leaseMs: number): Promise<RolloutLease | null> {
  checkLeaseMs(leaseMs);
  try {
    const r = await pool.query<LeaseRow>(
      `UPDATE rollout_leases SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
       WHERE rollout_id = $1 AND owner = $2 AND token = $3 AND expires_at > clock_timestamp()
       RETURNING ${RETURNING}`,
      [lease.rolloutId, lease.owner, lease.token, leaseMs],
    );
    return r.rows[0] ? toLease(r.rows[0]) : null;
  } catch (cause) {
    throw new Error(`could not renew the lease of rollout ${lease.rolloutId} (token ${lease.token})`, { cause });
  }
}

/**
 * Ends our term now so another replica can take over at once (a clean shutdown). The row stays, so
 * the next term's token is still larger. False when the lease was not ours any more.
 */
export async function releaseLease(pool: pg.Pool, lease: RolloutLease): Promise<boolean> {
  const r = await pool.query(
    "UPDATE rollout_leases SET expires_at = clock_timestamp() WHERE rollout_id = $1 AND owner = $2 AND token = $3 AND expires_at > clock_timestamp()",
    [lease.rolloutId, lease.owner, lease.token],
  );
  return r.rowCount === 1;
}

/** An append refused because the caller's lease is no longer current: it must stop driving the rollout. */
export class StaleFencingTokenError extends Error {
  constructor(
    readonly lease: RolloutLease,
    /** The lease as the database had it at the refusal (null: no lease row). */
    readonly current: { owner: string | null; token: number | null; expired: boolean | null },
    options?: ErrorOptions,
  ) {
    const now =
      current.token === null ? "no lease exists" : current.token !== lease.token ? `${current.owner} holds token ${current.token}` : "the lease has expired";
    super(`append to rollout ${lease.rolloutId} refused: ${lease.owner}'s fencing token ${lease.token} is stale (${now})`, options);
    this.name = "StaleFencingTokenError";
  }
}

/** The SQLSTATE migration 201's trigger raises for a stale fencing token. */
const STALE_TOKEN_CODE = "RF001";

/**
 * Appends an event to the lease's rollout, carrying its fencing token, and returns its seq. The
 * database checks the token in the insert (and notifies listeners at commit); when it is stale,
 * nothing is written and a StaleFencingTokenError says who holds the lease now. `also` runs in the
 * same transaction after the insert (e.g. the rollout's cached phase), so it is fenced too.
 */
export async function appendFencedEvent(
  pool: pg.Pool,
  lease: RolloutLease,
  e: Omit<NewEvent, "rolloutId">,
  also?: (client: pg.PoolClient, seq: number) => Promise<void>,
): Promise<number> {
  try {
    return await inTransaction(pool, async (c) => {
      const r = await c.query<{ seq: number }>(
        `INSERT INTO events (rollout_id, at, actor, type, payload, outcome, reason, details, lease_token)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq`,
        [
          lease.rolloutId,
          e.at,
          e.actor,
          e.type,
          JSON.stringify(e.payload),
          e.outcome,
          e.reason ?? null,
          e.details == null ? null : JSON.stringify(e.details),
          lease.token,
        ],
      );
      const seq = (r.rows[0] as { seq: number }).seq;
      await also?.(c, seq);
      return seq;
    });
  } catch (cause) {
    const err = cause as { code?: string; detail?: string };
    if (err.code === STALE_TOKEN_CODE) {
      const current = JSON.parse(err.detail ?? "{}") as { owner: string | null; token: number | null; expired: boolean | null };
      throw new StaleFencingTokenError(lease, current, { cause });
    }
    throw new Error(`could not append ${e.type} to rollout ${lease.rolloutId}`, { cause });
  }
}
