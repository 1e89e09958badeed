/**
 * Operator events: start, approve, pause, resume, abort, rollback, retry-step, skip-instance, continue-now.
 *
 * Each event has a guard and a handler. The guard reads the state and returns the rejection the event
 * gets now ("Cannot <verb>: <why>", e.g. "Cannot approve: batch 2 of 3 is still running"), or null;
 * the handler runs only after its guard said null, and changes the draft state. So asking the guard is
 * asking the machine: derivePhase does, to enable the UI's buttons.
 */
import { ACTIONS } from "./actions";
import { listIds } from "./plan";
import { activeIds, activePhase, assertNever, finish, setCursor } from "./cursor";
import { beginAbort, beginRollback, unknownFromVersions } from "./endings";
import { issueStage, proceed } from "./runs";
import { cutAnalysisShort } from "./analysis-stage";
import { isFinal, type RolloutState, getInstance } from "./state";
import type { OperatorEvent, Rejection, RolloutEvent, RolloutPhase } from "./types";

type Ev<T extends OperatorEvent["type"]> = Extract<RolloutEvent, { type: T }>;

/** Why the rollout cannot take an operator event now, in words. */
export function phaseReason(s: RolloutState): string {
  const total = s.direction === "rollback" ? s.rollbackBatches.length : s.batches.length;
  const n = s.cursor.batch + 1;
  const what = s.direction === "rollback" ? "rollback batch" : "batch";
  switch (s.phase) {
    case "planned":
      return "the rollout has not started";
    case "running":
      return `${what} ${n} of ${total} is still running`;
    case "awaiting-approval":
      return `batch ${n + 1} of ${total} is waiting for approval`;
    case "baking":
      return `batch ${n} of ${total} is baking`;
    case "paused":
      return "the rollout is paused";
    case "failed-awaiting-operator":
      return "a step failed and the rollout waits for you to retry it, skip the instance, roll back or abort";
    case "aborting":
      return "the rollout is aborting";
    case "aborted":
      return "the rollout was aborted";
    case "rolling-back":
      return "the rollout is rolling back";
    case "rolled-back":
      return "the rollout was rolled back";
    case "succeeded":
      return "the rollout has already succeeded";
  }
}

function refuse(code: Rejection["code"], message: string): Rejection {
  return { code, message };
}

/** Once the rollout has ended, that is the reason for everything. */
function notAllowed(s: RolloutState, type: OperatorEvent["type"], why = phaseReason(s)): Rejection {
  return refuse("NOT_ALLOWED_IN_PHASE", `Cannot ${ACTIONS[type].verb}: ${isFinal(s.phase) ? phaseReason(s) : why}`);
}

function phaseIn(s: RolloutState, phases: readonly RolloutPhase[]): boolean {
  return phases.includes(s.phase);
}

/** A step effect (not an approval or bake) is outstanding: requests wait for it to finish. */
function stepOutstanding(s: RolloutState): boolean {
  return s.cursor.status === "active" && s.cursor.stage !== "gate";
}

// ---- guards -------------------------------------------------------------------------------------

function startRefusal(s: RolloutState): Rejection | null {
  return s.phase === "planned" ? null : notAllowed(s, "start", s.endedAt === null ? "the rollout has already started" : phaseReason(s));
}

function approveRefusal(s: RolloutState, e: { batch?: number }): Rejection | null {
  if (s.phase !== "awaiting-approval") return notAllowed(s, "approve");
  const next = s.cursor.batch + 1;
  if (e.batch !== undefined && e.batch !== next) {
    return refuse("STALE_BATCH", `Cannot approve batch ${e.batch + 1}: batch ${next + 1} of ${s.batches.length} is the one waiting for approval`);
  }
  return null;
}

function pauseRefusal(s: RolloutState): Rejection | null {
  if (phaseIn(s, ["awaiting-approval", "baking"])) return null;
  if (!phaseIn(s, ["running", "rolling-back"]) || !stepOutstanding(s)) return notAllowed(s, "pause");
  if (s.pauseRequested) return notAllowed(s, "pause", "a pause is already requested; it takes effect when the current step finishes");
  return null;
}

function resumeRefusal(s: RolloutState): Rejection | null {
  if (s.phase === "paused") return null;
  if (s.pauseRequested) return notAllowed(s, "resume", "the pause has not taken effect yet");
  return notAllowed(s, "resume", `the rollout is not paused (${phaseReason(s)})`);
}

function abortRefusal(s: RolloutState): Rejection | null {
  if (phaseIn(s, ["planned", "running", "awaiting-approval", "baking", "paused", "failed-awaiting-operator", "rolling-back"])) return null;
  return notAllowed(s, "abort");
}

function rollbackRefusal(s: RolloutState): Rejection | null {
  if (s.direction === "rollback" || s.rollbackRequested) {
    return notAllowed(s, "rollback", s.phase === "rolling-back" ? phaseReason(s) : "the rollout has already been rolled back once");
  }
  if (!phaseIn(s, ["running", "awaiting-approval", "baking", "paused", "failed-awaiting-operator", "aborting", "aborted"])) {
    return notAllowed(s, "rollback");
  }
  const unknown = unknownFromVersions(s);
  if (unknown.length > 0) {
    return refuse(
      "ROLLBACK_UNAVAILABLE",
      `Cannot roll back: the previous version of ${listIds(unknown)} is unknown, so ${unknown.length === 1 ? "it" : "they"} cannot be taken back; abort instead`,
    );
  }
  return null;
}

function retryRefusal(s: RolloutState): Rejection | null {
  if (s.phase !== "failed-awaiting-operator" || s.failure === null) return notAllowed(s, "retry-step", `nothing has failed (${phaseReason(s)})`);
  return null;
}

function skipRefusal(s: RolloutState, e: { instanceId: string }): Rejection | null {
  const f = s.failure;
  if (s.phase !== "failed-awaiting-operator" || f === null) return notAllowed(s, "skip-instance", `nothing has failed (${phaseReason(s)})`);
  if (getInstance(s, e.instanceId) === undefined) return refuse("UNKNOWN_INSTANCE", `Cannot skip ${e.instanceId}: it is not part of this rollout`);
  const allowed = f.kind === "capacity" ? activeIds(s, f.run, f.batch) : f.ids;
  if (!allowed.includes(e.instanceId)) {
    return refuse(
      "INVALID_EVENT",
      f.kind === "capacity"
        ? `Cannot skip ${e.instanceId}: it is not in the batch waiting to start`
        : `Cannot skip ${e.instanceId}: only the failed instances (${listIds(f.ids)}) can be skipped`,
    );
  }
  return null;
}

function continueRefusal(s: RolloutState): Rejection | null {
  return s.phase === "baking" ? null : notAllowed(s, "continue-now", `there is no bake to end (${phaseReason(s)})`);
}

/** The rejection an operator event gets in this state, or null when the machine takes it. */
export function operatorRefusal(s: RolloutState, e: OperatorEvent): Rejection | null {
  switch (e.type) {
    case "start":
      return startRefusal(s);
    case "approve":
      return approveRefusal(s, e);
    case "pause":
      return pauseRefusal(s);
    case "resume":
      return resumeRefusal(s);
    case "abort":
      return abortRefusal(s);
    case "rollback":
      return rollbackRefusal(s);
    case "retry-step":
      return retryRefusal(s);
    case "skip-instance":
      return skipRefusal(s, e);
    case "continue-now":
      return continueRefusal(s);
    default:
      return assertNever(e, "operator event");
  }
}

// ---- handlers (run after their guard said yes; they change the draft) ----------------------------

function onStart(s: RolloutState, e: Ev<"start">): void {
  s.startedAt = e.at;
  s.currentBatch = 0;
  s.phase = "running";
  proceed(s, e.at);
}

function onApprove(s: RolloutState, e: Ev<"approve">): void {
  const next = s.cursor.batch + 1;
  s.outstanding = s.outstanding.filter((x) => x.type !== "awaitApproval");
  const b = s.batches[next];
  if (b) {
    b.approvedBy = e.actor;
    b.approvedAt = e.at;
  }
  setCursor(s, "settled");
  s.phase = "running";
  proceed(s, e.at);
}

function onPause(s: RolloutState, e: Ev<"pause">): void {
  if (phaseIn(s, ["awaiting-approval", "baking"])) {
    s.outstanding = s.outstanding.filter((x) => x.type !== "awaitApproval" && x.type !== "sleep");
    if (s.phase === "baking" && s.bakeUntil !== null) s.bakeRemainingMs = Math.max(0, s.bakeUntil - e.at);
    s.bakeUntil = null;
    setCursor(s, "todo");
    s.phase = "paused";
    return;
  }
  s.pauseRequested = true;
}

function onResume(s: RolloutState, e: Ev<"resume">): void {
  s.phase = activePhase(s);
  proceed(s, e.at);
}

function onAbort(s: RolloutState, e: Ev<"abort">): void {
  s.endedBy = e.actor;
  cutAnalysisShort(s, `abort by ${e.actor}`);
  if (stepOutstanding(s)) {
    s.abortRequested = true;
    s.rollbackRequested = false;
    s.pauseRequested = false;
    s.phase = "aborting";
    return;
  }
  if (s.phase === "planned") {
    finish(s, "aborted", e.at);
    return;
  }
  beginAbort(s, e.at);
  proceed(s, e.at);
}

function onRollback(s: RolloutState, e: Ev<"rollback">): void {
  s.endedBy = e.actor;
  cutAnalysisShort(s, `rollback by ${e.actor}`);
  if (stepOutstanding(s)) {
    s.rollbackRequested = true;
    s.abortRequested = false;
    s.phase = "rolling-back";
    return;
  }
  beginRollback(s, e.at);
  proceed(s, e.at);
}

function onRetryStep(s: RolloutState, e: Ev<"retry-step">): void {
  const f = s.failure;
  if (f === null) return;
  s.failure = null;
  setCursor(s, "todo");
  s.phase = activePhase(s);
  if (f.kind === "capacity") proceed(s, e.at);
  else if (issueStage(s, e.at, f.ids) === "settled") proceed(s, e.at);
}

function onSkipInstance(s: RolloutState, e: Ev<"skip-instance">): void {
  const f = s.failure;
  const inst = getInstance(s, e.instanceId);
  if (f === null || !inst) return;
  inst.status = "skipped";
  s.notes.push(
    inst.inRotation
      ? `${inst.id} skipped: it stays in rotation on ${inst.version ?? "its old version"}, not updated`
      : `${inst.id} skipped: it stays out of rotation`,
  );
  const remaining = f.ids.filter((id) => id !== e.instanceId);
  if (f.kind !== "capacity" && remaining.length > 0) {
    f.ids = remaining;
    return;
  }
  s.failure = null;
  setCursor(s, f.kind === "capacity" ? "todo" : "settled");
  s.phase = activePhase(s);
  proceed(s, e.at);
}

/** End a bake now (continue-now, or a tick at or after the bake's end). */
export function endBake(s: RolloutState, at: number): void {
  s.outstanding = s.outstanding.filter((x) => x.type !== "sleep");
  s.bakeUntil = null;
  setCursor(s, "settled");
  s.phase = "running";
  proceed(s, at);
}

/** Apply an operator event its guard accepted. */
export function applyOperatorEvent(s: RolloutState, e: Extract<RolloutEvent, OperatorEvent>): void {
  switch (e.type) {
    case "start":
      return onStart(s, e);
    case "approve":
      return onApprove(s, e);
    case "pause":
      return onPause(s, e);
    case "resume":
      return onResume(s, e);
    case "abort":
      return onAbort(s, e);
    case "rollback":
      return onRollback(s, e);
    case "retry-step":
      return onRetryStep(s, e);
    case "skip-instance":
      return onSkipInstance(s, e);
    case "continue-now":
      return endBake(s, e.at);
    default:
      return assertNever(e, "operator event");
  }
}
