/**
 * How a rollout moves through its batches: issuing each stage's effects, the capacity guard, completing
 * a batch, and `proceed`, which drives the cursor to the next resting point. Abort and rollback live in
 * endings.ts; step results are settled in engine-events.ts.
 *
 * A *run* is one batch going through a list of steps together:
 * - forward batch b:  deregister → drain → stop → deploy → start → verify → register → wait-in-service,
 *   then the gate (awaitApproval in manual mode, sleep for the bake in auto mode) before batch b+1;
 * - rollback batch b: the same eight steps back to the batch's `fromVersion`, no gate;
 * - return (abort):   start → verify for the instances stopped with their code unchanged, then
 *   register → wait-in-service for every instance being returned.
 * With batch analysis on, a forward batch ends with the `analysis` stage (analysis-stage.ts) before its gate.
 *
 * A step issues one effect per version (one, except in abort's return run over a mixed fleet) for the
 * batch's active instances that need it: `deregister` only those believed registered, `register` only
 * those believed not, `start`/`verify` in the return run only the stopped ones. A step with nobody to
 * act on finishes at once. Effect ids name the run, batch, step and attempt: `f3:deploy#2`,
 * `r0:stop#1`, `af2:register#1` (abort return of forward batch 2), `f1:approval#1`, `f1:bake#1`.
 */
import { activeIds, activePhase, aliveCount, assertNever, finish, GROUP_STEPS, isReplace, launchVersionFor, moveToBatch, newIds, nextEffectId, runSteps, setCursor, stepIds, versionFor } from "./cursor";
import { analysisOn, issueAnalysis } from "./analysis-stage";
import { beginAbort, beginRollback } from "./endings";
import { inServiceCount, isFinal, type Failure, type InstanceState, type RolloutState, getInstance } from "./state";
import type { Effect, HookName, StepName } from "./types";

/**
 * Replace: the group effects. Sizes come from the machine's beliefs when the effect is issued and are
 * stored in it as absolute numbers, so an engine performing it again after a crash asks for the same.
 * - launch: desired = alive + surge for this batch (capped at max), wanting that many new instances;
 * - terminate: decrement the desired capacity for as many as the group is above its original size;
 * - replace: desired = the original size, wanting as many new instances as it takes to get back there.
 */
function groupEffect(s: RolloutState, step: "launch" | "terminate" | "replace", ids: string[]): Effect {
  const r = s.plan.replace!;
  const c = s.cursor;
  const batch = c.batch;
  const effectId = nextEffectId(s, step);
  const alive = aliveCount(s);
  const timeoutMs = s.groupTimeoutMs ?? s.inServiceTimeoutMs;
  if (step === "terminate") {
    return { type: "terminate", effectId, batch, ids, group: r.group, decrement: Math.max(0, Math.min(ids.length, alive - r.desired)), timeoutMs };
  }
  const known = s.instances.map((i) => i.id);
  const launchVersion = launchVersionFor(s, c.run);
  if (step === "launch") {
    // Abort's return only points the group back and restores its size; it launches nothing.
    const surge = c.run === "return" ? 0 : Math.min(r.surge, ids.length);
    let desired = Math.min(r.max, alive + surge);
    if (c.run === "return") {
      // Back to the original size, unless instances stay out of rotation: shrinking then would let the
      // group terminate serving instances while the ones that stay out are kept.
      const out = s.instances.filter((i) => i.server !== "terminated" && !i.inRotation).map((i) => i.id);
      desired = out.length === 0 ? r.desired : Math.max(r.desired, alive);
      if (desired !== r.desired) s.notes.push(`${r.group} stays at desired ${desired}, not ${r.desired}: ${out.join(", ")} stay out of rotation, and shrinking would let the group terminate serving instances instead`);
    }
    return { type: "scaleGroup", effectId, batch, step, ids, group: r.group, launchVersion, desired, want: Math.max(0, desired - alive), known, retiring: [], timeoutMs };
  }
  const retiring = ids.filter((id) => getInstance(s, id)?.server === "terminated");
  return { type: "scaleGroup", effectId, batch, step, ids, group: r.group, launchVersion, desired: r.desired, want: Math.max(0, r.desired - alive), known, retiring, timeoutMs };
}

function effectFor(s: RolloutState, step: StepName, ids: string[], version: string): Effect {
  const batch = s.cursor.batch;
  if (step === "launch" || step === "terminate" || step === "replace") return groupEffect(s, step, ids);
  const effectId = nextEffectId(s, step);
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

export function setFailure(s: RolloutState, failure: Failure): void {
  s.failure = failure;
  setCursor(s, "failed");
  s.phase = "failed-awaiting-operator";
  s.pauseRequested = false;
}

/**
 * Capacity guard: believed in service now, minus the instances this deregister takes out, must stay at
 * or above plan.minHealthy. Example: 10 instances, 2 unhealthy outside the batch, batch of 2, minHealthy 7
 * → 8 − 2 = 6 < 7: refuse to start the batch and wait for the operator.
 */
function capacityFailure(s: RolloutState, ids: string[], at: number): Failure | null {
  const inService = inServiceCount(s);
  const takenOut = ids.filter((id) => getInstance(s, id)?.inRotation).length;
  const left = inService - takenOut;
  if (left >= s.plan.minHealthy) return null;
  const notServing = s.plan.fleetSize - inService;
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

/** Whether the step has work to do on this instance, or else why not (recorded as a step done at once). */
function needsStep(s: RolloutState, step: StepName, inst: InstanceState): true | string | null {
  if (inst.server === "terminated") return step === "terminate" || step === "replace" ? true : "terminated";
  if (step === "deregister") return inst.registered ? true : "already out of rotation";
  if (step === "register") return inst.registered ? "already registered" : true;
  // In abort's return run, only a stopped server is started and verified; the others are left alone.
  if (s.cursor.run === "return" && (step === "start" || step === "verify")) return inst.server === "stopped" || inst.server === "unknown" ? true : null;
  return true;
}

function issueGate(s: RolloutState, at: number): void {
  const c = s.cursor;
  let effect: Effect;
  // The gate before the first batch is always a person's approval, whatever the mode.
  if (s.mode.kind === "manual" || c.batch < 0) {
    effect = { type: "awaitApproval", effectId: nextEffectId(s, "approval"), batch: c.batch + 1 };
    s.phase = "awaiting-approval";
  } else {
    const ms = s.bakeRemainingMs ?? s.mode.bakeMs;
    effect = { type: "sleep", effectId: nextEffectId(s, "bake"), batch: c.batch, ms, until: at + ms };
    s.bakeUntil = at + ms;
    s.bakeRemainingMs = null;
    s.phase = "baking";
  }
  s.outstanding.push(effect);
  setCursor(s, "active");
}

type IssueOutcome = "issued" | "settled" | "failed";

/** Issue the effects for the cursor's stage (status `todo`); `only` narrows a retry to the failed instances. */
export function issueStage(s: RolloutState, at: number, only?: readonly string[]): IssueOutcome {
  const c = s.cursor;
  if (c.stage === "gate") {
    issueGate(s, at);
    return "issued";
  }
  if (c.stage === "analysis") return issueAnalysis(s);
  const step = c.stage;
  const wanted = only ? new Set(only) : null;
  const ids = stepIds(s, c.run, c.batch, step).filter((id) => wanted === null || wanted.has(id));
  const groupStep = isReplace(s) && GROUP_STEPS.has(step);
  if (ids.length === 0 && !groupStep) {
    setCursor(s, "settled");
    return "settled";
  }
  startBatchIfNeeded(s, at);
  const target: string[] = [];
  for (const id of ids) {
    const inst = getInstance(s, id);
    if (!inst) continue;
    const need = needsStep(s, step, inst);
    if (need === true) target.push(id);
    else if (need !== null) {
      inst.status = "running";
      inst.step = step;
      inst.steps[step] = { status: "done", issuedAt: at, startedAt: at, endedAt: at, attempts: inst.steps[step].attempts, message: need };
    }
  }
  // The guard is about taking instances out of rotation: nothing to deregister, nothing to guard.
  if (step === "deregister" && c.run !== "return" && target.length > 0) {
    const failure = capacityFailure(s, target, at);
    if (failure) {
      setFailure(s, failure);
      return "failed";
    }
  }
  if (target.length === 0 && !groupStep) {
    setCursor(s, "settled");
    return "settled";
  }
  if (groupStep) {
    for (const id of target) markRunning(s, step, at, id);
    s.outstanding.push(effectFor(s, step, target, launchVersionFor(s, c.run)));
    setCursor(s, "active");
    s.phase = activePhase(s);
    return "issued";
  }
  const byVersion = new Map<string, string[]>();
  for (const id of target) {
    const inst = markRunning(s, step, at, id);
    if (!inst) continue;
    const version = versionFor(s, c.run, c.batch, inst);
    const group = byVersion.get(version);
    if (group) group.push(id);
    else byVersion.set(version, [id]);
  }
  for (const [version, group] of byVersion) s.outstanding.push(effectFor(s, step, group, version));
  setCursor(s, "active");
  s.phase = activePhase(s);
  return "issued";
}

function markRunning(s: RolloutState, step: StepName, at: number, id: string): InstanceState | undefined {
  const inst = getInstance(s, id);
  if (!inst) return undefined;
  inst.status = "running";
  inst.step = step;
  inst.touched = true;
  if (step === "stop" || step === "start") inst.server = "unknown";
  inst.steps[step] = { status: "running", issuedAt: at, startedAt: null, endedAt: null, attempts: inst.steps[step].attempts + 1 };
  return inst;
}

function startBatchIfNeeded(s: RolloutState, at: number): void {
  const c = s.cursor;
  const b = c.run === "forward" ? s.batches[c.batch] : c.run === "rollback" ? s.rollbackBatches[c.batch] : undefined;
  if (b && b.status === "pending") {
    b.status = "running";
    b.startedAt = at;
  }
}

function completeBatch(s: RolloutState, at: number): boolean {
  const c = s.cursor;
  const active = activeIds(s, c.run, c.batch);
  if (c.run === "return") {
    // Returned to rotation: done if on the rollout's version, else back to pending (not updated).
    for (const id of active) {
      const inst = getInstance(s, id);
      if (inst) inst.status = inst.version === s.plan.targetVersion ? "done" : "pending";
    }
    finish(s, "aborted", at);
    return false;
  }
  const returned = c.run === "rollback" ? (s.rollbackBatches[c.batch]?.returnIds ?? []) : [];
  for (const id of [...active, ...newIds(s, c.run, c.batch), ...returned]) {
    const inst = getInstance(s, id);
    if (inst && inst.status !== "skipped") inst.status = "done";
  }
  const batches = c.run === "forward" ? s.batches : s.rollbackBatches;
  const b = batches[c.batch];
  if (b) {
    b.status = "done";
    b.endedAt = at;
  }
  if (c.batch >= batches.length - 1) {
    finish(s, c.run === "forward" ? "succeeded" : "rolled-back", at);
    return false;
  }
  if (c.run === "forward") setCursor(s, "todo", "gate");
  else moveToBatch(s, "rollback", c.batch + 1);
  return true;
}

/** From a settled stage to the next one (todo), or to the end. Returns false when the rollout rests. */
function moveOn(s: RolloutState, at: number): boolean {
  const c = s.cursor;
  if (c.stage === "gate") {
    moveToBatch(s, "forward", c.batch + 1);
    return true;
  }
  if (c.stage === "analysis") return completeBatch(s, at);
  const steps = runSteps(s, c.run);
  const next = steps[steps.indexOf(c.stage) + 1];
  if (next !== undefined) {
    setCursor(s, "todo", next);
    return true;
  }
  // A forward batch back in service is watched and judged before it counts as done.
  if (c.run === "forward" && analysisOn(s)) {
    setCursor(s, "todo", "analysis");
    return true;
  }
  return completeBatch(s, at);
}

/**
 * Drive the rollout from where the cursor is until an effect is outstanding or it rests
 * (paused, waiting for the operator, ended). Pause, abort and rollback requests take effect here,
 * at a step boundary.
 */
export function proceed(s: RolloutState, at: number): void {
  // Each pass moves the cursor forward; a batch has at most nine stages, so this always ends.
  for (;;) {
    if (isFinal(s.phase)) return;
    const c = s.cursor;
    if (c.status === "settled") {
      if (s.abortRequested) beginAbort(s, at);
      else if (s.rollbackRequested) beginRollback(s, at);
      else if (!moveOn(s, at)) return;
      continue;
    }
    if (c.status === "todo") {
      if (s.pauseRequested) {
        s.pauseRequested = false;
        s.phase = "paused";
        return;
      }
      if (issueStage(s, at) === "settled") continue;
    }
    return;
  }
}

