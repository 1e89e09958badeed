/**
 * The rollout state machine: `transition(state, event) → { state, effects }`, pure and deterministic.
 * Time comes only from `event.at`; the state is plain JSON; a rejected event returns the very same
 * state object with a reason the UI can show. The engine performs the effects and reports back with
 * engine events; `replay` rebuilds the state from the event log after a crash, and the engine then
 * performs `state.outstanding` again.
 *
 * Each event has a guard (may it happen now? if not, the rejection the operator reads) and a handler
 * that changes a draft of the state; immer's `produce` turns the draft into the next immutable state,
 * sharing every unchanged instance record with the previous one.
 *
 * Rules, with the details in runs.ts (batches), endings.ts (abort, rollback), operator-events.ts and
 * engine-events.ts:
 * - `start` (planned → running) issues batch 1's deregister (or, with `approveFirstBatch`, waits for a
 *   person's approval of batch 1 first). Each batch runs its steps together,
 *   then waits for `approve` (manual) or bakes (auto: `tick` at or after the bake's end, or
 *   `continue-now`). After the last batch: `succeeded`.
 * - A failed or timed-out step marks the failed instances failed at that step (the others have it done)
 *   and waits for the operator (`failed-awaiting-operator`): `retry-step` re-runs the step for the failed
 *   instances only; `skip-instance` leaves one where it is (out of rotation) and goes on without it;
 *   `abort`; `rollback`.
 * - `pause` takes effect at the next step boundary (immediately while waiting for approval or baking);
 *   `resume` issues the next effect.
 * - `abort` lets the outstanding step finish, returns to rotation the instances it took out whose
 *   server is as it was (starting the stopped ones first), then `aborted`.
 * - `rollback` lets it finish, then runs every touched instance back to its previous version, newest
 *   first, then `rolled-back`.
 * - Capacity guard: a batch is only taken out of rotation if the instances believed in service minus
 *   the batch stay at or above plan.minHealthy; otherwise the rollout waits for the operator.
 *
 * Example (2 instances, batch 1, manual):
 *   start          → effects [deregister f0:deregister#1 [i-1]]
 *   step-succeeded f0:deregister#1 → [waitDrain f0:drain#1]   … verify, register, waitInService …
 *   step-succeeded f0:wait-in-service#1 → [awaitApproval f0:approval#1 (batch 1)]; phase awaiting-approval
 *   approve        → [deregister f1:deregister#1 [i-2]]   …   step-succeeded f1:wait-in-service#1 → succeeded
 *   approve (again) → rejected: "Cannot approve: the rollout has already succeeded"
 */
import { produce } from "immer";
import { freshSteps } from "./cursor";
import * as eng from "./engine-events";
import * as op from "./operator-events";
import type { InstanceState, RolloutState } from "./state";
import type { AnalysisSettings, ApprovalMode, Effect, OperatorEvent, Rejection, RolloutEvent, RolloutPlan } from "./types";

export interface CreateRolloutInput {
  id: string;
  lb: string;
  plan: RolloutPlan;
  mode: ApprovalMode;
  drainTimeoutMs: number;
  /** Default 300 000 (5 min): health checks can take minutes (interval 30 s × threshold 5). */
  inServiceTimeoutMs?: number;
  /**
   * Replace: how long a group step may wait for new instances (an EC2 boot, the group's health grace
   * period and every load balancer's health thresholds). Default 900 000 (15 min).
   */
  groupTimeoutMs?: number;
  /** Default 600 000 (10 min). */
  hookTimeoutMs?: number;
  /** Wait for a person's approval before batch 1, whatever the mode (the two-person rule). Default false. */
  approveFirstBatch?: boolean;
  /** Batch analysis after each forward batch (analysis-stage.ts); absent or a 0 window: off. */
  analysis?: AnalysisSettings;
  createdAt: number;
  createdBy: string;
}

export type TransitionResult =
  | { ok: true; state: RolloutState; effects: Effect[] }
  | { ok: false; state: RolloutState; rejection: Rejection };

export const DEFAULT_IN_SERVICE_TIMEOUT_MS = 300_000;
export const DEFAULT_HOOK_TIMEOUT_MS = 600_000;
export const DEFAULT_GROUP_TIMEOUT_MS = 900_000;

/** A rollout in phase `planned`, every instance pending and believed as the plan saw it. */
export function createRollout(input: CreateRolloutInput): RolloutState {
  const { plan } = input;
  if (plan.batches.length === 0 || plan.instances.length === 0) throw new Error(`rollout ${input.id}: the plan has no batches`);
  if (input.mode.kind === "auto" && !(input.mode.bakeMs >= 0)) throw new Error(`rollout ${input.id}: bake time must be 0 or more`);
  const batchOf = new Map<string, number>();
  for (const b of plan.batches) for (const id of b.instanceIds) batchOf.set(id, b.index);
  const instances: InstanceState[] = [];
  const positions: Record<string, number> = {};
  for (const p of plan.instances) {
    const batch = batchOf.get(p.id);
    if (batch === undefined) throw new Error(`rollout ${input.id}: instance ${p.id} is in no batch`);
    positions[p.id] = instances.length;
    instances.push({
      id: p.id,
      zone: p.zone,
      fromVersion: p.fromVersion,
      targetVersion: plan.targetVersion,
      batch,
      rollbackBatch: null,
      inServiceAtStart: p.inServiceAtStart,
      status: "pending",
      step: null,
      steps: freshSteps(),
      forward: null,
      touched: false,
      registered: true,
      inRotation: p.inServiceAtStart,
      server: "serving",
      version: p.fromVersion,
      lbState: null,
      inFlight: null,
    });
  }
  const approveFirstBatch = input.approveFirstBatch === true;
  return {
    id: input.id,
    lb: input.lb,
    createdAt: input.createdAt,
    createdBy: input.createdBy,
    mode: input.mode,
    approveFirstBatch,
    drainTimeoutMs: input.drainTimeoutMs,
    inServiceTimeoutMs: input.inServiceTimeoutMs ?? DEFAULT_IN_SERVICE_TIMEOUT_MS,
    ...(input.plan.strategy === "replace" ? { groupTimeoutMs: input.groupTimeoutMs ?? DEFAULT_GROUP_TIMEOUT_MS } : {}),
    hookTimeoutMs: input.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
    ...(input.analysis && input.analysis.windowMs > 0 ? { analysis: input.analysis } : {}),
    plan,
    phase: "planned",
    direction: "forward",
    startedAt: null,
    endedAt: null,
    updatedAt: input.createdAt,
    currentBatch: -1,
    cursor: approveFirstBatch ? { run: "forward", batch: -1, stage: "gate", status: "todo" } : { run: "forward", batch: 0, stage: plan.strategy === "replace" ? "launch" : "deregister", status: "todo" },
    batches: plan.batches.map((b) => ({
      index: b.index,
      canary: b.canary,
      instanceIds: b.instanceIds,
      status: "pending",
      startedAt: null,
      endedAt: null,
      approvedBy: null,
      approvedAt: null,
    })),
    rollbackBatches: [],
    instances,
    positions,
    inService: plan.instances.filter((p) => p.inServiceAtStart).length,
    outstanding: [],
    effectCounts: {},
    pauseRequested: false,
    abortRequested: false,
    rollbackRequested: false,
    bakeRemainingMs: null,
    bakeUntil: null,
    failure: null,
    returning: [],
    leftOut: [],
    notes: [],
    endedBy: null,
  };
}

function isOperatorEvent(e: RolloutEvent): e is Extract<RolloutEvent, OperatorEvent> {
  switch (e.type) {
    case "start":
    case "approve":
    case "pause":
    case "resume":
    case "abort":
    case "rollback":
    case "retry-step":
    case "skip-instance":
    case "continue-now":
      return true;
    default:
      return false;
  }
}

/** The rejection the event gets in this state, or null when the machine takes it. */
function refusal(state: RolloutState, event: RolloutEvent): Rejection | null {
  if (typeof event !== "object" || event === null || !Number.isFinite(event.at)) return { code: "INVALID_EVENT", message: "Event has no valid time" };
  if (isOperatorEvent(event)) return op.operatorRefusal(state, event);
  switch (event.type) {
    case "step-started":
    case "step-succeeded":
    case "step-failed":
    case "step-timed-out":
      return eng.stepReportRefusal(state, event);
    case "analysis-finished":
      return eng.analysisReportRefusal(state, event);
    case "drain-observed":
    case "health-observed":
    case "tick":
      return null;
    default: {
      // Exhaustive for well-typed events; an unknown type read back from a log is refused, not thrown.
      const unknown: never = event;
      return { code: "INVALID_EVENT", message: `Unknown event type ${JSON.stringify((unknown as { type?: unknown }).type)}` };
    }
  }
}

function apply(s: RolloutState, event: RolloutEvent): void {
  if (isOperatorEvent(event)) return op.applyOperatorEvent(s, event);
  switch (event.type) {
    case "step-started":
      return eng.onStepStarted(s, event);
    case "step-succeeded":
    case "step-failed":
    case "step-timed-out":
      return eng.onStepResult(s, event);
    case "analysis-finished":
      return eng.onAnalysisFinished(s, event);
    case "drain-observed":
      return eng.onDrainObserved(s, event);
    case "health-observed":
      return eng.onHealthObserved(s, event);
    case "tick":
      return eng.onTick(s, event);
  }
}

/** Apply one event. Never throws for a well-formed event; never mutates `state`. */
export function transition(state: RolloutState, event: RolloutEvent): TransitionResult {
  const rejection = refusal(state, event);
  if (rejection) return { ok: false, state, rejection };
  const next = produce(state, (draft) => {
    apply(draft, event);
  });
  // An observation that changes nothing leaves the very same state (and its time) behind.
  if (next === state) return { ok: true, state, effects: [] };
  const finalState: RolloutState = Object.freeze({ ...next, updatedAt: event.at });
  const before = new Set(state.outstanding.map((e) => e.effectId));
  return { ok: true, state: finalState, effects: finalState.outstanding.filter((e) => !before.has(e.effectId)) };
}

/**
 * Whether `transition` would take this operator event now: null, or the very rejection it would give.
 * Runs only the event's guard, so asking costs no simulated transition.
 */
export function operatorRejection(state: RolloutState, event: OperatorEvent & { at: number }): Rejection | null {
  if (!Number.isFinite(event.at)) return { code: "INVALID_EVENT", message: "Event has no valid time" };
  return op.operatorRefusal(state, event);
}

/** Rebuild a rollout from its creation input and its event log. Rejected events change nothing, as when they happened. */
export function replay(input: CreateRolloutInput, events: readonly RolloutEvent[]): RolloutState {
  let state = createRollout(input);
  for (const event of events) state = transition(state, event).state;
  return state;
}
