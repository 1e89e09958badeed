/**
 * What the dashboard's route handlers read: rollouts for the history table, one rollout in full
 * (state, derivePhase's view, batches with per-instance steps, the event timeline, capacity and
 * traffic since the start), and the active rollout of a load balancer. Reads only: the state is the
 * journal's replay of the log (kept caught up per process), the fleet numbers come from the shared
 * monitor's latest snapshot (never a provider call per request).
 */
import { derivePhase, estimateRemainingMs } from "@/lib/rollout/derive";
import { getInstance, inServiceCount, type InstanceState, type Procedure, type RolloutState } from "@/lib/rollout/state";
import { STEPS, type OperatorEventType, type RolloutPhase } from "@/lib/rollout/types";
import type { BatchView, InstanceProgress, RolloutDetail, RolloutSummary, StepStatus, StepView, StoredEvent, TrafficView } from "@/lib/views";
import type { TrafficStats } from "@/server/providers/types";
import { getFleetMonitor, type FleetMonitor } from "@/server/monitor";
import type { RolloutRow, RotorStore } from "@/server/store";
import { getJournal } from "@/server/store/journal";
import { commandStore } from "./commands";

const FINAL: ReadonlySet<RolloutPhase> = new Set(["succeeded", "aborted", "rolled-back"]);

function summarize(row: RolloutRow, decision: StoredEvent | null, now: number): RolloutSummary {
  return {
    id: row.id,
    lb: row.lb,
    provider: row.provider,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    targetVersion: row.targetVersion,
    fromVersions: row.fromVersions,
    phase: row.phase,
    active: row.active,
    finishedAt: row.finishedAt,
    durationMs: (row.finishedAt ?? now) - row.createdAt,
    decidedBy: decision ? { type: decision.type as OperatorEventType, actor: decision.actor, at: decision.at } : null,
  };
}

/** Rollouts, newest first (default 200), optionally of one load balancer. */
export function listRollouts(filter: { lb?: string; limit?: number } = {}): RolloutSummary[] {
  const store = commandStore();
  const now = Date.now();
  return store.listRollouts(filter).map((row) => summarize(row, store.lastDecision(row.id), now));
}

/** The active rollout of a load balancer, if any. */
export function activeRolloutFor(lb: string): RolloutSummary | null {
  const store = commandStore();
  const row = store.activeRolloutFor(lb);
  return row ? summarize(row, store.lastDecision(row.id), Date.now()) : null;
}

/** Instance|step pairs whose latest report was a timeout, so a failed step can show as "timed-out". */
function timedOut(events: StoredEvent[]): Set<string> {
  const effectIds = new Map<string, string[]>();
  const last = new Map<string, string>();
  for (const e of events) {
    if (e.outcome !== "applied") continue;
    const effectId = String(e.payload.effectId ?? "");
    if (e.type === "step-started") {
      const effect = e.details?.effect as { ids?: string[] } | undefined;
      effectIds.set(effectId, effect?.ids ?? []);
      continue;
    }
    if (e.type !== "step-succeeded" && e.type !== "step-failed" && e.type !== "step-timed-out") continue;
    // Effect ids read "f1:deploy#2": the step is between ':' and '#'.
    const step = effectId.slice(effectId.indexOf(":") + 1, effectId.lastIndexOf("#"));
    const named = e.type === "step-timed-out" ? ((e.payload.ids as string[] | undefined) ?? []) : [];
    for (const id of named.length > 0 ? named : (effectIds.get(effectId) ?? [])) last.set(`${id}|${step}`, e.type);
  }
  return new Set([...last].filter(([, type]) => type === "step-timed-out").map(([key]) => key));
}

function stepViews(proc: Procedure, id: string, timeouts: Set<string>): StepView[] {
  return STEPS.map((name) => {
    const r = proc.steps[name];
    let status: StepStatus = r.status === "done" ? "succeeded" : r.status;
    if (status === "failed" && timeouts.has(`${id}|${name}`)) status = "timed-out";
    const from = r.startedAt ?? r.issuedAt;
    const v: StepView = {
      name,
      status,
      startedAt: from,
      finishedAt: r.endedAt,
      durationMs: from !== null && r.endedAt !== null ? r.endedAt - from : null,
      attempts: r.attempts,
    };
    if (r.outputTail !== undefined) v.outputTail = r.outputTail;
    if (r.message !== undefined) v.message = r.message;
    if (r.exitCode !== undefined) v.exitCode = r.exitCode;
    return v;
  });
}

function progress(inst: InstanceState, proc: Procedure, timeouts: Set<string>): InstanceProgress {
  return { id: inst.id, zone: inst.zone, fromVersion: inst.fromVersion, steps: stepViews(proc, inst.id, timeouts), skipped: proc.status === "skipped", status: proc.status };
}

function batchViews(s: RolloutState, events: StoredEvent[]): BatchView[] {
  const timeouts = timedOut(events);
  const forward: BatchView[] = s.batches.map((b) => ({
    index: b.index,
    canary: b.canary,
    inServiceDuring: s.plan.batches[b.index]?.inServiceDuring ?? s.plan.minHealthy,
    direction: "forward",
    version: s.plan.targetVersion,
    status: b.status,
    startedAt: b.startedAt,
    finishedAt: b.endedAt,
    approvedBy: b.approvedBy,
    instances: b.instanceIds.flatMap((id) => {
      const inst = getInstance(s, id);
      return inst ? [progress(inst, inst.forward ?? inst, timeouts)] : [];
    }),
  }));
  // Rollback steps are recorded fresh on the instance; the forward run moved to `inst.forward`.
  const back: BatchView[] = s.rollbackBatches.map((b) => ({
    index: b.index,
    canary: false,
    inServiceDuring: s.plan.minHealthy,
    direction: "rollback",
    version: b.fromVersion,
    status: b.status,
    startedAt: b.startedAt,
    finishedAt: b.endedAt,
    approvedBy: null,
    instances: b.instanceIds.flatMap((id) => {
      const inst = getInstance(s, id);
      return inst ? [progress(inst, inst, new Set())] : [];
    }),
  }));
  return [...forward, ...back];
}

function minus(now: TrafficStats, base: TrafficStats | null): TrafficView {
  const kinds: Record<string, number> = {};
  for (const [k, n] of Object.entries(now.failuresByKind)) kinds[k] = Math.max(0, n - (base?.failuresByKind[k] ?? 0));
  // Counters reset under the rollout (fleet restarted, an operator reset them): count from zero.
  const reset = base !== null && now.requests < base.requests;
  const b = reset ? null : base;
  return { requests: now.requests - (b?.requests ?? 0), ok: now.ok - (b?.ok ?? 0), failed: now.failed - (b?.failed ?? 0), failuresByKind: reset ? now.failuresByKind : kinds, at: now.at };
}

function trafficSince(events: StoredEvent[], live: TrafficStats | null, active: boolean): TrafficView | null {
  const start = events.find((e) => e.type === "start" && e.outcome === "applied");
  const base = (start?.details?.traffic as TrafficStats | null | undefined) ?? null;
  if (active) return live ? minus(live, base) : null;
  const end = [...events].reverse().find((e) => e.type === "rollout-finished");
  const final = (end?.details?.traffic as TrafficStats | null | undefined) ?? null;
  return final ? minus(final, base) : null;
}

/** One rollout in full, or null when there is none with this id. */
export function getRolloutDetail(id: string): RolloutDetail | null {
  let monitor: FleetMonitor | null = null;
  try {
    monitor = getFleetMonitor();
  } catch {
    // No provider configured in this process: show the rollout without live fleet numbers.
  }
  return rolloutDetail(commandStore(), monitor, id);
}

/** getRolloutDetail on a given store and monitor (tests, tools). */
export function rolloutDetail(store: RotorStore, monitor: FleetMonitor | null, id: string): RolloutDetail | null {
  const row = store.rollout(id);
  if (!row) return null;
  const journal = getJournal(store, id);
  if (!journal) return null;
  const s = journal.state;
  const now = Date.now();
  const events = store.events(id);
  const active = !FINAL.has(s.phase);
  const snapshot = monitor?.snapshot(s.lb) ?? null;
  const observed = snapshot && snapshot.at !== null ? snapshot.instances.filter((i) => i.state === "in-service").length : null;
  return {
    summary: summarize(row, store.lastDecision(id), now),
    state: s,
    view: derivePhase(s, now),
    remainingMs: estimateRemainingMs(s, now),
    batches: batchViews(s, events),
    capacity: { inService: observed, believedInService: inServiceCount(s), minHealthy: s.plan.minHealthy, fleetSize: s.plan.fleetSize },
    traffic: trafficSince(events, snapshot?.traffic ?? null, active),
    events,
    monitorError: snapshot?.consecutiveErrors ? snapshot.lastError : null,
    now,
  };
}
