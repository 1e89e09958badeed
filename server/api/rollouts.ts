/**
 * Rollout reads for the API and the pages: the history table, one rollout in full, the active
 * rollout of a load balancer, and where it has each instance. Lookups in the journals' read models
 * (kept caught up as events are appended) and the monitor's latest snapshot: no read replays the log
 * or calls the provider.
 */
import { replaceSummary } from "@/lib/rollout/batch-views";
import { derivePhase, estimateRemainingMs } from "@/lib/rollout/derive";
import { inServiceCount, isFinal } from "@/lib/rollout/state";
import type { OperatorEventType } from "@/lib/rollout/types";
import type { ActiveRolloutRef, InstanceRolloutStep, RolloutDetail, RolloutDetailView, RolloutSummary, StoredEvent, TrafficView } from "@/lib/views";
import type { TrafficStats } from "@/server/providers/types";
import type { FleetSnapshot } from "@/server/monitor";
import type { RolloutRow } from "@/server/store";
import type { RolloutJournal } from "@/server/store/journal";
import { runtime, type Runtime } from "@/server/runtime";
import { ensureAuthSchema } from "@/server/auth/db";
import { twoPersonLbs, twoPersonWaiting } from "@/server/auth/two-person";
import type { RolloutState } from "@/lib/rollout/state";
import type { DerivedView } from "@/lib/rollout/derive";
import { NotFound } from "./http";

/** Under the two-person rule, the waiting line names who must act ("a second operator"). */
function withTwoPerson(rt: Runtime, s: RolloutState, view: DerivedView): DerivedView {
  const gate = s.outstanding.find((e) => e.type === "awaitApproval");
  const waitingBatch = gate ? gate.batch : null;
  const lbs = twoPersonLbs(ensureAuthSchema(rt.store.db));
  const line = twoPersonWaiting({ lb: s.lb, phase: view.phase, waitingBatch, batches: s.batches.length, startedBy: s.createdBy }, lbs);
  return line ? { ...view, message: line } : view;
}

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
export async function rolloutList(filter: { lb?: string; limit?: number } = {}, rt: Runtime = runtime()): Promise<RolloutSummary[]> {
  const now = Date.now();
  return rt.store.listRollouts(filter).map((row) => summarize(row, rt.store.lastDecision(row.id), now));
}

function minus(now: TrafficStats, base: TrafficStats | null): TrafficView {
  const kinds: Record<string, number> = {};
  for (const [k, n] of Object.entries(now.failuresByKind)) kinds[k] = Math.max(0, n - (base?.failuresByKind[k] ?? 0));
  // Counters reset under the rollout (fleet restarted, an operator reset them): count from zero.
  const reset = base !== null && now.requests < base.requests;
  const b = reset ? null : base;
  return { requests: now.requests - (b?.requests ?? 0), ok: now.ok - (b?.ok ?? 0), failed: now.failed - (b?.failed ?? 0), failuresByKind: reset ? now.failuresByKind : kinds, at: now.at };
}

function trafficSince(j: RolloutJournal, live: TrafficStats | null, active: boolean): TrafficView | null {
  if (active) return live ? minus(live, j.trafficAtStart) : null;
  return j.trafficAtEnd ? minus(j.trafficAtEnd, j.trafficAtStart) : null;
}

function snapshotOf(rt: Runtime, lb: string): FleetSnapshot | null {
  try {
    return rt.monitor.snapshot(lb);
  } catch {
    // No provider configured in this process: show the rollout without live fleet numbers.
    return null;
  }
}

/** One rollout in full, with its machine state (engine tests and tools), or null. */
export function rolloutDetailWithState(id: string, rt: Runtime = runtime()): RolloutDetail | null {
  const row = rt.store.rollout(id);
  const j = row ? rt.journals.get(id) : null;
  if (!row || !j) return null;
  const s = j.state;
  const now = Date.now();
  const snapshot = snapshotOf(rt, s.lb);
  const observed = snapshot && snapshot.at !== null ? snapshot.instances.filter((i) => i.state === "in-service").length : null;
  return {
    summary: summarize(row, rt.store.lastDecision(id), now),
    state: s,
    view: withTwoPerson(rt, s, derivePhase(s, now)),
    remainingMs: estimateRemainingMs(s, now),
    batches: j.readModel().batches,
    capacity: { inService: observed, believedInService: inServiceCount(s), minHealthy: s.plan.minHealthy, fleetSize: s.plan.fleetSize },
    traffic: trafficSince(j, snapshot?.traffic ?? null, !isFinal(s.phase)),
    events: j.events,
    monitorError: snapshot?.consecutiveErrors ? snapshot.lastError : null,
    now,
  };
}

/** `GET /api/rollouts/{id}`: the rollout without the raw machine state (large, and not the UI's business). */
export async function rolloutDetail(id: string, rt: Runtime = runtime()): Promise<RolloutDetailView> {
  const d = rolloutDetailWithState(id, rt);
  if (!d) throw new NotFound(`No rollout ${id}`);
  const { state, ...rest } = d;
  const replace = replaceSummary(state, rest.events);
  return { ...rest, ...(replace ? { replace } : {}), approval: state.mode, drainTimeoutMs: state.drainTimeoutMs, notes: state.notes, ...(state.analysis ? { analysis: state.analysis } : {}) };
}

export async function activeRolloutRef(lb: string, rt: Runtime = runtime()): Promise<ActiveRolloutRef | null> {
  const row = rt.store.activeRolloutFor(lb);
  const j = row ? rt.journals.get(row.id) : null;
  if (!row || !j) return null;
  const view = withTwoPerson(rt, j.state, derivePhase(j.state, Date.now()));
  return { id: row.id, phase: view.phase, message: view.message, targetVersion: row.targetVersion, progress: view.progress };
}

/** Where the rollout has each instance (the fleet table's column), from its read model. */
export function instanceSteps(rolloutId: string, rt: Runtime = runtime()): Record<string, InstanceRolloutStep> {
  return rt.journals.get(rolloutId)?.readModel().instanceSteps ?? {};
}
