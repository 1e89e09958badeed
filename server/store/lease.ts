/**
 * The engine lease: one engine process runs the rollouts of a data dir at a time. An engine holds
 * the lease by heartbeating; another takes it over when the holder's heartbeat is stale or its
 * process is gone (same host: SQLite files are local), which is how a restarted engine resumes
 * at once after a SIGKILL instead of waiting out the heartbeat.
 */
import type { RotorStore } from "./index";

export interface Lease {
  owner: string;
  pid: number;
  acquiredAt: number;
  heartbeatAt: number;
}

export const LEASE_STALE_MS = 3_000;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readLease(store: RotorStore): Lease | null {
  const row = store.db
    .prepare<[], { owner: string; pid: number; acquired_at: number; heartbeat_at: number }>("SELECT * FROM engine_lease WHERE id = 1")
    .get();
  return row ? { owner: row.owner, pid: row.pid, acquiredAt: row.acquired_at, heartbeatAt: row.heartbeat_at } : null;
}

export type AcquireResult =
  | { ok: true; previous: Lease | null; takenOver: boolean }
  | { ok: false; holder: Lease };

/**
 * Takes the lease if it is free, ours, stale, or held by a dead process. `previous` is the lease
 * found (another owner's when `takenOver`: that engine ended without releasing, i.e. it crashed).
 */
export function acquireLease(store: RotorStore, owner: string, now = Date.now()): AcquireResult {
  return store.write(() => {
    const current = readLease(store);
    if (current && current.owner !== owner && now - current.heartbeatAt < LEASE_STALE_MS && processAlive(current.pid)) {
      return { ok: false, holder: current };
    }
    store.db
      .prepare(
        `INSERT INTO engine_lease (id, owner, pid, acquired_at, heartbeat_at) VALUES (1, @owner, @pid, @now, @now)
         ON CONFLICT (id) DO UPDATE SET owner = @owner, pid = @pid, heartbeat_at = @now,
           acquired_at = CASE WHEN engine_lease.owner = @owner THEN engine_lease.acquired_at ELSE @now END`,
      )
      .run({ owner, pid: process.pid, now });
    return { ok: true, previous: current, takenOver: !!current && current.owner !== owner };
  });
}

/** Renews the lease; false when another engine has taken it (this one must stop driving rollouts). */
export function heartbeatLease(store: RotorStore, owner: string, now = Date.now()): boolean {
  const info = store.db.prepare("UPDATE engine_lease SET heartbeat_at = ? WHERE id = 1 AND owner = ?").run(now, owner);
  return info.changes === 1;
}

export function releaseLease(store: RotorStore, owner: string): void {
  store.db.prepare("DELETE FROM engine_lease WHERE id = 1 AND owner = ?").run(owner);
}
