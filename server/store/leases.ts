/**
 * Exactly one engine drives each rollout: a lease row per rollout (owner, expiry, fencing token),
 * on either store. The owner renews it before it expires; another engine — another process on this
 * machine, or another replica on the shared PostgreSQL — takes it over only once it has expired, or
 * at once when its owner's process is gone from this very host (a SIGKILLed dashboard restarted in
 * place resumes without waiting out the lease). Every takeover increases the token; the engine
 * appends its events with its token and the database refuses a stale or expired one inside the
 * insert (migration 7's trigger), so an engine paused past its lease and then resumed writes nothing.
 *
 * Expiry uses the database's clock on PostgreSQL (shared by every replica) and this machine's on
 * SQLite (one machine by definition). Decisions run in a write transaction, so of several engines
 * racing for an expired lease exactly one wins.
 */
import { hostname } from "node:os";
import type { RotorStore } from "./index";

export interface RolloutLease {
  rolloutId: string;
  owner: string;
  host: string;
  pid: number;
  /** Grows at every new term; the owner's events carry it. */
  token: number;
  acquiredAt: number;
  /** ms since the epoch, by the store's clock. */
  expiresAt: number;
}

export type LeaseAcquireResult =
  | { ok: true; lease: RolloutLease; /** The previous term's lease, when another owner held it. */ previous: RolloutLease | null }
  | { ok: false; holder: RolloutLease };

/** How long a lease lasts and how often its owner renews it (ROTOR_LEASE_MS, ROTOR_LEASE_RENEW_MS). */
export interface LeaseSettings {
  leaseMs: number;
  renewMs: number;
}

/** Defaults give a takeover within 10 s of an owner's death: expiry 6 s + the next engine pass. */
export const DEFAULT_LEASE: LeaseSettings = { leaseMs: 6_000, renewMs: 2_000 };

export function leaseSettings(env: Record<string, string | undefined>): LeaseSettings {
  const read = (name: string, fallback: number, min: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number of milliseconds ≥ ${min}, got "${raw}"`);
    return n;
  };
  const leaseMs = read("ROTOR_LEASE_MS", DEFAULT_LEASE.leaseMs, 500);
  const renewMs = read("ROTOR_LEASE_RENEW_MS", Math.min(DEFAULT_LEASE.renewMs, Math.floor(leaseMs / 3)), 100);
  if (renewMs * 2 > leaseMs) throw new Error(`ROTOR_LEASE_RENEW_MS (${renewMs}) must be at most half of ROTOR_LEASE_MS (${leaseMs}): a lease must survive one missed renewal`);
  return { leaseMs, renewMs };
}

interface LeaseRow {
  rollout_id: string;
  owner: string;
  host: string;
  pid: number;
  token: number;
  acquired_at: number;
  expires_at: number;
}

const toLease = (r: LeaseRow): RolloutLease => ({
  rolloutId: r.rollout_id,
  owner: r.owner,
  host: r.host,
  pid: r.pid,
  token: r.token,
  acquiredAt: r.acquired_at,
  expiresAt: r.expires_at,
});

const HOST = hostname();

function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "EPERM";
  }
}

/** The lease row of a rollout (also after its last term ended), or null if none was ever taken. */
export function readLease(store: RotorStore, rolloutId: string): RolloutLease | null {
  const row = store.db.prepare<[string], LeaseRow>("SELECT * FROM rollout_leases WHERE rollout_id = ?").get(rolloutId);
  return row ? toLease(row) : null;
}

/** Every lease in force now, by rollout. */
export function liveLeases(store: RotorStore): RolloutLease[] {
  return store.db
    .prepare<[number], LeaseRow>("SELECT * FROM rollout_leases WHERE expires_at > ? ORDER BY rollout_id")
    .all(store.now())
    .map(toLease);
}

/**
 * Takes the rollout's lease when it is free, expired, ours (then only extended, same token), or (SQLite)
 * held by a process that no longer exists. A new term gets token + 1.
 */
export function acquireLease(store: RotorStore, rolloutId: string, owner: string, leaseMs: number): LeaseAcquireResult {
  return store.write((): LeaseAcquireResult => {
    const now = store.now();
    const cur = readLease(store, rolloutId);
    const live = cur !== null && cur.expiresAt > now;
    if (cur && live && cur.owner === owner) {
      store.db.prepare("UPDATE rollout_leases SET expires_at = ? WHERE rollout_id = ?").run(now + leaseMs, rolloutId);
      return { ok: true, lease: { ...cur, expiresAt: now + leaseMs }, previous: null };
    }
    const ownerGone = store.location.kind === "sqlite" && cur !== null && cur.host === HOST && processGone(cur.pid);
    if (cur && live && !ownerGone) return { ok: false, holder: cur };
    const lease: RolloutLease = { rolloutId, owner, host: HOST, pid: process.pid, token: (cur?.token ?? 0) + 1, acquiredAt: now, expiresAt: now + leaseMs };
    store.db
      .prepare(
        `INSERT INTO rollout_leases (rollout_id, owner, host, pid, token, acquired_at, expires_at)
         VALUES (@rolloutId, @owner, @host, @pid, @token, @acquiredAt, @expiresAt)
         ON CONFLICT (rollout_id) DO UPDATE SET owner = @owner, host = @host, pid = @pid, token = @token,
           acquired_at = @acquiredAt, expires_at = @expiresAt`,
      )
      .run({ ...lease });
    return { ok: true, lease, previous: cur && cur.owner !== owner ? cur : null };
  });
}

/** Extends an unexpired lease of ours; the renewed lease, or null when it expired or passed to another. */
export function renewLease(store: RotorStore, lease: RolloutLease, leaseMs: number): RolloutLease | null {
  return store.write(() => {
    const now = store.now();
    const changed = store.db
      .prepare("UPDATE rollout_leases SET expires_at = ? WHERE rollout_id = ? AND owner = ? AND token = ? AND expires_at > ?")
      .run(now + leaseMs, lease.rolloutId, lease.owner, lease.token, now).changes;
    return changed === 1 ? { ...lease, expiresAt: now + leaseMs } : null;
  });
}

/** Ends the term now (the row stays: tokens only grow). False when the lease was no longer ours. */
export function releaseLease(store: RotorStore, lease: RolloutLease): boolean {
  return store.write(() => {
    const now = store.now();
    return (
      store.db
        .prepare("UPDATE rollout_leases SET expires_at = ? WHERE rollout_id = ? AND owner = ? AND token = ? AND expires_at > ?")
        .run(now, lease.rolloutId, lease.owner, lease.token, now).changes === 1
    );
  });
}
