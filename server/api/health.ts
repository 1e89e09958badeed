/**
 * GET /api/health, for whatever watches the dashboard (a load balancer in front of it, a supervisor):
 * whether this process can serve operators (its store answers) and what its engine is doing. Open
 * to anyone, so it says nothing an outsider should not know: no rollout ids, no owners, no paths.
 *
 *   200 { ok: true, ready: true, store: { kind: "sqlite", ok: true, schemaVersion: 5 },
 *         engine: { running: true, holdsLease: true, rollouts: 1 } }
 *   503 { ok: false, ready: false, store: { kind: "sqlite", ok: false, error: "…" }, … }
 *
 * An engine standing by (another process holds the data dir's lease) is still ready: it serves
 * operators, and takes over when the holder stops.
 */
import type { Runtime } from "@/server/runtime";

export interface HealthReport {
  ok: boolean;
  ready: boolean;
  store: { kind: "sqlite"; ok: boolean; schemaVersion?: number; error?: string };
  engine: { running: boolean; holdsLease: boolean; rollouts: number };
}

export function healthReport(rt: Runtime): HealthReport {
  let store: HealthReport["store"];
  try {
    const row = rt.store.db.prepare<[], { v: number | null }>("SELECT MAX(version) AS v FROM schema_migrations").get();
    store = { kind: "sqlite", ok: true, ...(row?.v != null ? { schemaVersion: row.v } : {}) };
  } catch (err) {
    store = { kind: "sqlite", ok: false, error: `the store does not answer: ${err instanceof Error ? err.message : String(err)}` };
  }
  const engine = rt.engine;
  const report: HealthReport = {
    ok: store.ok,
    ready: store.ok,
    store,
    engine: { running: engine !== null, holdsLease: engine?.holdsLease() ?? false, rollouts: engine?.activeRunners().length ?? 0 },
  };
  return report;
}
