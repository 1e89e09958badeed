/**
 * GET /api/health, for whatever watches the dashboard (a load balancer in front of it, a supervisor):
 * whether this process can serve operators (its store answers) and what its engine is doing. Open
 * to anyone, so it says nothing an outsider should not know: no rollout ids, no owners, no paths.
 *
 *   200 { ok: true, ready: true, store: { kind: "postgres", ok: true, schemaVersion: 201 },
 *         engine: { running: true, rollouts: 1, leases: 1, leaseMs: 6000, renewMs: 2000 } }
 *   503 { ok: false, ready: false, store: { kind: "postgres", ok: false, error: "…" }, … }
 *
 * Ready means the store answers: a replica whose engine drives nothing (the other replicas hold
 * the leases) serves operators all the same, and takes over a rollout whose lease expires.
 */
import type { Runtime } from "@/server/runtime";

export interface HealthReport {
  ok: boolean;
  ready: boolean;
  store: { kind: "sqlite" | "postgres"; ok: boolean; schemaVersion?: number; error?: string };
  /** Rollouts driven here, the leases held (driving or about to), and the lease settings. */
  engine: { running: boolean; rollouts: number; leases: number; leaseMs?: number; renewMs?: number };
}

export function healthReport(rt: Runtime): HealthReport {
  let store: HealthReport["store"];
  const kind = rt.store.location.kind;
  try {
    const row = rt.store.db.prepare<[], { v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").get();
    store = { kind, ok: true, ...(row?.v != null ? { schemaVersion: row.v } : {}) };
  } catch (err) {
    store = { kind, ok: false, error: `the store does not answer: ${err instanceof Error ? err.message : String(err)}` };
  }
  const engine = rt.engine;
  const report: HealthReport = {
    ok: store.ok,
    ready: store.ok,
    store,
    engine: engine
      ? { running: true, rollouts: engine.activeRunners().length, leases: engine.heldLeases().length, leaseMs: engine.lease.leaseMs, renewMs: engine.lease.renewMs }
      : { running: false, rollouts: 0, leases: 0 },
  };
  return report;
}
