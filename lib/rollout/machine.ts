/**
 * The rollout state machine: `transition(state, event) → { state, effects }`, pure and deterministic.
 * Time comes only from `event.at`; the state is plain JSON; a rejected event returns the very same
 * state object with a reason the UI can show. The engine performs the effects and reports back with
 * engine events; `replay` rebuilds the state from the event log after a crash, and the engine then
 * performs `state.outstanding` again.
 *
 * Rules (DESIGN.md "Rollout semantics"), with the details in runs.ts:
 * - `start` (planned → running) issues batch 1's deregister. Each batch runs its steps in lockstep,
 *   then waits for `approve` (manual) or bakes (auto: `tick` at or after the bake's end, or
 *   `continue-now`). After the last batch: `succeeded`.
 * - A failed or timed-out step marks the failed instances failed at that step (the others have it done)
 *   and waits for the operator (`failed-awaiting-operator`): `retry-step` re-runs the step for the failed
 *   instances only; `skip-instance` leaves one where it is (out of rotation) and goes on without it;
 *   `abort`; `rollback`.
 * - `pause` takes effect at the next step boundary (immediately while waiting for approval or baking);
 *   `resume` issues the next effect.
 * - `abort` lets the outstanding step finish, returns the batch's healthy instances to rotation, then
 *   `aborted`. `rollback` lets it finish, then runs every touched instance back to its previous version,
 *   newest first, then `rolled-back`.
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
import { assertNever, reject, type HandlerOutcome } from "./draft";
import * as eng from "./engine-events";
import * as op from "./operator-events";
import { runSteps, FRESH_STEPS } from "./runs";
import { CHUNK, type InstanceState, type RolloutState } from "./state";
import type { ApprovalMode, Effect, OperatorEvent, Rejection, RolloutEvent, RolloutPlan } from "./types";

export interface CreateRolloutInput {
  id: string;
  lb: string;
  plan: RolloutPlan;
  mode: ApprovalMode;
  drainTimeoutMs: number;
  /** Default 300 000 (5 min): health checks can take minutes (interval 30 s × threshold 5). */
  inServiceTimeoutMs?: number;
  /** Default 600 000 (10 min). */
  hookTimeoutMs?: number;
  createdAt: number;
  createdBy: string;
  /**
   * Gate batch 1 too: `start` issues `awaitApproval` for batch 0 (phase awaiting-approval) instead of
   * batch 0's deregister, in either mode, and `approve` (batch 0) starts it. The two-person rule
   * sets it so a second person approves before anything leaves rotation. Default false.
   */
  approveFirstBatch?: boolean;
}

export type TransitionResult =
  | { ok: true; state: RolloutState; effects: Effect[] }
  | { ok: false; state: RolloutState; rejection: Rejection };

export const DEFAULT_IN_SERVICE_TIMEOUT_MS = 300_000;
export const DEFAULT_HOOK_TIMEOUT_MS = 600_000;

/** A rollout in phase `planned`, every instance pending and believed as the plan saw it. */
export function createRollout(input: CreateRolloutInput): RolloutState {
  const { plan } = input;
  if (plan.batches.length === 0 || plan.instances.length === 0) throw new Error(`rollout ${input.id}: the plan has no batches`);
  if (input.mode.kind === "auto" && !(input.mode.bakeMs >= 0)) throw new Error(`rollout ${input.id}: bake time must be 0 or more`);
  const batchOf = new Map<string, number>();
  for (const b of plan.batches) for (const id of b.instanceIds) batchOf.set(id, b.index);
  const locator: Record<string, number> = {};
  const records: InstanceState[][] = [];
  let inService = 0;
  plan.instances.forEach((p, pos) => {
    const batch = batchOf.get(p.id);
    if (batch === undefined) throw new Error(`rollout ${input.id}: instance ${p.id} is in no batch`);
    locator[p.id] = pos;
    if (pos % CHUNK === 0) records.push([]);
    records[records.length - 1]?.push({
      id: p.id,
      zone: p.zone,
      fromVersion: p.fromVersion,
      targetVersion: plan.targetVersion,
      batch,
      rollbackBatch: null,
      inServiceAtStart: p.inServiceAtStart,
      status: "pending",
      step: null,
      steps: FRESH_STEPS,
      forward: null,
      touched: false,
      registered: true,
      inRotation: p.inServiceAtStart,
      healthy: true,
      version: p.fromVersion,
      lbState: null,
      inFlight: null,
    });
    if (p.inServiceAtStart) inService++;
  });
  return {
    id: input.id,
    lb: input.lb,
    createdAt: input.createdAt,
    createdBy: input.createdBy,
    mode: input.mode,
    drainTimeoutMs: input.drainTimeoutMs,
    inServiceTimeoutMs: input.inServiceTimeoutMs ?? DEFAULT_IN_SERVICE_TIMEOUT_MS,
    hookTimeoutMs: input.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
    plan,
    phase: "planned",
    direction: "forward",
    startedAt: null,
    endedAt: null,
    updatedAt: input.createdAt,
    currentBatch: -1,
    // The gate "after batch -1" is the gate before batch 0: approving it moves on to batch 0, as any gate does.
    cursor: input.approveFirstBatch
      ? { run: "forward", batch: -1, stage: "gate", status: "todo" }
      : { run: "forward", batch: 0, stage: runSteps("forward")[0] ?? "deregister", status: "todo" },
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
    records,
    locator,
    lockstep: null,
    inService,
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

/** Apply one event. Never throws for a well-formed event; never mutates `state`. */
export function transition(state: RolloutState, event: RolloutEvent): TransitionResult {
  if (typeof event !== "object" || event === null || !Number.isFinite(event.at)) {
    return { ok: false, state, rejection: { code: "INVALID_EVENT", message: "Event has no valid time" } };
  }
  const outcome = dispatch(state, event);
  switch (outcome.kind) {
    case "reject":
      return { ok: false, state, rejection: outcome.rejection };
    case "unchanged":
      return { ok: true, state, effects: [] };
    case "accept": {
      const next = outcome.draft.s;
      next.updatedAt = event.at;
      // outstanding holds at most a few effects: the new ones are those not there before
      const effects = next.outstanding.filter((e) => !state.outstanding.some((o) => o.effectId === e.effectId));
      return { ok: true, state: next, effects };
    }
    default:
      return assertNever(outcome, "outcome");
  }
}

/**
 * Whether `transition` would take this operator event now: null, or the very rejection it would give.
 * Runs only the handler's guard (the handlers accept whatever their guard lets through), so asking
 * costs no simulated transition.
 */
export function operatorRejection(state: RolloutState, event: OperatorEvent & { at: number }): Rejection | null {
  if (!Number.isFinite(event.at)) return { code: "INVALID_EVENT", message: "Event has no valid time" };
  return op.operatorRefusal(state, event);
}

function dispatch(state: RolloutState, event: RolloutEvent): HandlerOutcome {
  switch (event.type) {
    case "start":
      return op.onStart(state, event);
    case "approve":
      return op.onApprove(state, event);
    case "pause":
      return op.onPause(state, event);
    case "resume":
      return op.onResume(state, event);
    case "abort":
      return op.onAbort(state, event);
    case "rollback":
      return op.onRollback(state, event);
    case "retry-step":
      return op.onRetryStep(state, event);
    case "skip-instance":
      return op.onSkipInstance(state, event);
    case "continue-now":
      return op.onContinueNow(state, event);
    case "step-started":
      return eng.onStepStarted(state, event);
    case "step-succeeded":
    case "step-failed":
    case "step-timed-out":
      return eng.onStepResult(state, event);
    case "drain-observed":
      return eng.onDrainObserved(state, event);
    case "health-observed":
      return eng.onHealthObserved(state, event);
    case "tick":
      return eng.onTick(state, event);
    default: {
      // Exhaustive for well-typed events; an unknown type read back from a log is refused, not thrown.
      const unknown: never = event;
      return reject("INVALID_EVENT", `Unknown event type ${JSON.stringify((unknown as { type?: unknown }).type)}`);
    }
  }
}

/** Rebuild a rollout from its creation input and its event log. Rejected events change nothing, as when they happened. */
export function replay(input: CreateRolloutInput, events: readonly RolloutEvent[]): RolloutState {
  let state = createRollout(input);
  for (const event of events) state = transition(state, event).state;
  return state;
}
