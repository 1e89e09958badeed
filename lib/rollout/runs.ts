/**
 * How a rollout moves through its batches: issuing each stage's effect, the capacity guard, completing
 * a batch, and `proceed`, which drives the cursor to the next resting point. Abort and rollback live in
 * endings.ts; step results are settled in engine-events.ts.
 *
 * A *run* is one batch going through a list of steps in lockstep:
 * - forward batch b:  deregister → drain → stop → deploy → start → verify → register → wait-in-service,
 *   then the gate (awaitApproval in manual mode, sleep for the bake in auto mode) before batch b+1;
 * - rollback batch b: the same eight steps back to the batch's `fromVersion`, no gate;
 * - return (abort):   register → wait-in-service for the instances the rollout took out whose server
 *   is healthy (never stopped, or verified since).
 *
 * One effect per step covers the batch's active (not skipped) instances. `deregister` covers only
 * those the machine believes registered and `register` only those it believes not registered, so
 * nothing is deregistered twice without a register between. A step with nobody to act on finishes
 * at once. Effect ids name the run, batch, step and attempt: `f3:deploy#2`, `r0:stop#1`,
 * `af2:register#1` (abort return of forward batch 2), `f1:approval#1`, `f1:bake#1`.
 */
import { ENDED, activeIds, activePhase, cursorAt, finish, moveToBatch, runBatchIds, runSteps, runVersion } from "./cursor";
import { type Draft, assertNever } from "./draft";
import { beginAbort, beginRollback } from "./endings";
import type { Failure, LockstepFields, RolloutState } from "./state";
import type { Effect, HookName, StepName } from "./types";

function prefix(s: RolloutState): string {
  const c = s.cursor;
  if (c.run === "return") return `a${s.direction === "forward" ? "f" : "r"}${c.batch}`;
  return `${c.run === "forward" ? "f" : "r"}${c.batch}`;
}

function nextEffectId(d: Draft, name: string): string {
  const key = `${prefix(d.s)}:${name}`;
  const n = (d.s.effectCounts[key] ?? 0) + 1;
  const counts: Record<string, number> = Object.assign({}, d.s.effectCounts); // a few keys: this batch's steps
  counts[key] = n;
  d.s.effectCounts = counts;
  return `${key}#${n}`;
}

function effectFor(d: Draft, step: StepName, ids: string[], version: string): Effect {
  const s = d.s;
  const batch = s.cursor.batch;
  const effectId = nextEffectId(d, step);
  switch (step) {
    case "deregister":
      return { type: "deregister", effectId, batch, ids };
    case "drain":
      return { type: "waitDrain", effectId, batch, ids, timeoutMs: s.drainTimeoutMs };
    case "stop":
    case "deploy":
    case "start":
    case "verify":
      return { type: "runHook", effectId, batch, ids, hook: step satisfies HookName, params: { version }, timeoutMs: s.hookTimeoutMs };
    case "register":
      return { type: "register", effectId, batch, ids };
    case "wait-in-service":
      return { type: "waitInService", effectId, batch, ids, timeoutMs: s.inServiceTimeoutMs };
    default:
      return assertNever(step, "step");
  }
}

function setFailure(d: Draft, failure: Failure): void {
  d.s.failure = failure;
  d.s.cursor = cursorAt(d.s.cursor, "failed");
  d.s.phase = "failed-awaiting-operator";
  d.s.pauseRequested = false;
}

/**
 * Capacity guard: believed in service now, minus the instances this deregister takes out, must stay at
 * or above plan.minHealthy. Example: 10 instances, 2 unhealthy outside the batch, batch of 2, minHealthy 7
 * → 8 − 2 = 6 < 7: refuse to start the batch and wait for the operator.
 */
function capacityFailure(d: Draft, ids: string[], at: number): Failure | null {
  const s = d.s;
  const takenOut = d.having(ids, "inRotation", true).length;
  const left = s.inService - takenOut;
  if (left >= s.plan.minHealthy) return null;
  const notServing = s.plan.fleetSize - s.inService;
  const c = s.cursor;
  const total = c.run === "rollback" ? s.rollbackBatches.length : s.batches.length;
  const what = c.run === "rollback" ? "Rollback batch" : "Batch";
  return {
    kind: "capacity",
    run: c.run,
    batch: c.batch,
    step: "deregister",
    ids,
    message:
      `${what} ${c.batch + 1} of ${total} would leave ${left} of ${s.plan.fleetSize} instances in service, ` +
      `below the minimum of ${s.plan.minHealthy}` +
      (notServing > 0 ? ` (${notServing} not in service now)` : ""),
    at,
  };
}

type IssueOutcome = "issued" | "settled" | "failed";

/** Issue the effect for the cursor's stage (status `todo`); `only` narrows a retry to the failed instances. */
export function issueStage(d: Draft, at: number, only?: readonly string[]): IssueOutcome {
  const s = d.s;
  const c = s.cursor;
  if (c.stage === "gate") {
    let effect: Effect;
    // Before batch 0 (approveFirstBatch) the gate is an approval in either mode.
    if (s.mode.kind === "manual" || c.batch < 0) {
      effect = { type: "awaitApproval", effectId: nextEffectId(d, "approval"), batch: c.batch + 1 };
      s.phase = "awaiting-approval";
    } else {
      const ms = s.bakeRemainingMs ?? s.mode.bakeMs;
      effect = { type: "sleep", effectId: nextEffectId(d, "bake"), batch: c.batch, ms, until: at + ms };
      s.bakeUntil = at + ms;
      s.bakeRemainingMs = null;
      s.phase = "baking";
    }
    s.outstanding = [...s.outstanding, effect];
    s.cursor = cursorAt(c, "active");
    return "issued";
  }
  const step = c.stage;
  d.formLockstep(runBatchIds(s, c.run, c.batch));
  const active = activeIds(s, c.run, c.batch);
  const wanted = only ? new Set(only) : null;
  const ids = wanted ? active.filter((id) => wanted.has(id)) : active;
  if (ids.length === 0) {
    s.cursor = cursorAt(c, "settled");
    return "settled";
  }
  startBatchIfNeeded(d, at);
  let target = ids;
  if (step === "deregister") target = d.having(ids, "registered", true);
  else if (step === "register") target = d.having(ids, "registered", false);
  // The guard is about taking instances out of rotation: nothing to deregister, nothing to guard.
  if (step === "deregister" && c.run !== "return" && target.length > 0) {
    const failure = capacityFailure(d, target, at);
    if (failure) {
      setFailure(d, failure);
      return "failed";
    }
  }
  // Lockstep: the instances of one effect share their step record (same issue time and attempt).
  const issuedPatch: LockstepFields =
    step === "stop" ? { status: "running", step, touched: true, healthy: false } : { status: "running", step, touched: true };
  d.many(target, issuedPatch, step, (prev) => ({ status: "running", issuedAt: at, startedAt: null, endedAt: null, attempts: prev.attempts + 1 }));
  if (target.length < ids.length) {
    const already = step === "deregister" ? "already out of rotation" : "already registered";
    const targeted = new Set(target);
    d.many(
      ids.filter((id) => !targeted.has(id)),
      { status: "running", step },
      step,
      (prev) => ({ status: "done", issuedAt: at, startedAt: at, endedAt: at, attempts: prev.attempts, message: already }),
    );
  }
  if (target.length === 0) {
    s.cursor = cursorAt(c, "settled");
    return "settled";
  }
  const effect = effectFor(d, step, target, runVersion(s, c.run, c.batch));
  s.outstanding = [...s.outstanding, effect];
  s.cursor = cursorAt(c, "active");
  s.phase = activePhase(s);
  return "issued";
}

function startBatchIfNeeded(d: Draft, at: number): void {
  const s = d.s;
  const c = s.cursor;
  if (c.run === "forward") {
    const b = s.batches[c.batch];
    if (b && b.status === "pending") {
      s.batches = s.batches.slice();
      s.batches[c.batch] = { ...b, status: "running", startedAt: at };
    }
  } else if (c.run === "rollback") {
    const b = s.rollbackBatches[c.batch];
    if (b && b.status === "pending") {
      s.rollbackBatches = s.rollbackBatches.slice();
      s.rollbackBatches[c.batch] = { ...b, status: "running", startedAt: at };
    }
  }
}

function completeBatch(d: Draft, at: number): boolean {
  const s = d.s;
  const c = s.cursor;
  const active = activeIds(s, c.run, c.batch);
  if (c.run === "return") {
    // Returned to rotation: done if on the rollout's version, else back to pending (not updated).
    const version = runVersion(s, c.run, c.batch);
    const onVersion = active.filter((id) => d.field(id, "version") === version);
    const notUpdated = active.filter((id) => d.field(id, "version") !== version);
    d.many(onVersion, { status: "done" });
    d.many(notUpdated, { status: "pending" });
    finish(d, "aborted", at);
    return false;
  }
  d.many(active, { status: "done" });
  if (c.run === "forward") {
    const b = s.batches[c.batch];
    if (b) {
      s.batches = s.batches.slice();
      s.batches[c.batch] = { ...b, status: "done", endedAt: at };
    }
    if (c.batch >= s.batches.length - 1) {
      finish(d, "succeeded", at);
      return false;
    }
    s.cursor = cursorAt(c, "todo", "gate");
    return true;
  }
  const b = s.rollbackBatches[c.batch];
  if (b) {
    s.rollbackBatches = s.rollbackBatches.slice();
    s.rollbackBatches[c.batch] = { ...b, status: "done", endedAt: at };
  }
  if (c.batch >= s.rollbackBatches.length - 1) {
    finish(d, "rolled-back", at);
    return false;
  }
  moveToBatch(d, "rollback", c.batch + 1);
  return true;
}

/** From a settled stage to the next one (todo), or to the end. Returns false when the rollout rests. */
function moveOn(d: Draft, at: number): boolean {
  const c = d.s.cursor;
  if (c.stage === "gate") {
    moveToBatch(d, "forward", c.batch + 1);
    return true;
  }
  const steps = runSteps(c.run);
  const i = steps.indexOf(c.stage);
  const next = steps[i + 1];
  if (next !== undefined) {
    d.s.cursor = cursorAt(c, "todo", next);
    return true;
  }
  return completeBatch(d, at);
}

/**
 * Drive the rollout from where the cursor is until an effect is outstanding or it rests
 * (paused, waiting for the operator, ended). Pause, abort and rollback requests take effect here,
 * at a step boundary.
 */
export function proceed(d: Draft, at: number): void {
  // Each pass moves the cursor forward; a batch has at most nine stages, so this always ends.
  for (;;) {
    const s = d.s;
    const c = s.cursor;
    if (ENDED.has(s.phase)) return;
    if (c.status === "settled") {
      if (s.abortRequested) {
        beginAbort(d, at);
        continue;
      }
      if (s.rollbackRequested) {
        beginRollback(d, at);
        continue;
      }
      if (!moveOn(d, at)) return;
      continue;
    }
    if (c.status === "todo") {
      if (s.pauseRequested) {
        s.pauseRequested = false;
        s.phase = "paused";
        return;
      }
      if (issueStage(d, at) === "settled") continue;
      return;
    }
    return;
  }
}


export { FRESH_STEPS, RETURN_STEPS, activeIds, activePhase, cursorAt, finish, runBatchIds, runSteps, runVersion } from "./cursor";
export { beginAbort, beginRollback, planRollback, returnable, unknownFromVersions } from "./endings";
