/**
 * Operator events: start, approve, pause, resume, abort, rollback, retry-step, skip-instance, continue-now.
 * Each handler first checks the phase; an event the phase does not allow is rejected with
 * "Cannot <verb>: <why>" (e.g. "Cannot approve: batch 2 of 3 is still running"), never ignored.
 */
import { Draft, accept, assertNever, reject, type HandlerOutcome } from "./draft";
import { listIds } from "./plan";
import { activeIds, activePhase, cursorAt, finish } from "./cursor";
import { beginAbort, beginRollback, unknownFromVersions } from "./endings";
import { issueStage, proceed } from "./runs";
import type { RolloutState } from "./state";
import type { OperatorEvent, Rejection, RolloutEvent, RolloutPhase } from "./types";

type Ev<T extends OperatorEvent["type"]> = Extract<RolloutEvent, { type: T }>;

const VERBS: Record<OperatorEvent["type"], string> = {
  start: "start",
  approve: "approve",
  pause: "pause",
  resume: "resume",
  abort: "abort",
  rollback: "roll back",
  "retry-step": "retry the step",
  "skip-instance": "skip an instance",
  "continue-now": "continue now",
};

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

const ENDED: ReadonlySet<RolloutPhase> = new Set(["succeeded", "aborted", "rolled-back"]);

/** Once the rollout has ended, that is the reason for everything. */
function notAllowed(s: RolloutState, type: OperatorEvent["type"], why = phaseReason(s)): HandlerOutcome {
  return reject("NOT_ALLOWED_IN_PHASE", `Cannot ${VERBS[type]}: ${ENDED.has(s.phase) ? phaseReason(s) : why}`);
}

function phaseIn(s: RolloutState, phases: readonly RolloutPhase[]): boolean {
  return phases.includes(s.phase);
}

/** A step effect (not an approval or bake) is outstanding: requests wait for it to finish. */
function stepOutstanding(s: RolloutState): boolean {
  return s.cursor.status === "active" && s.cursor.stage !== "gate";
}

/**
 * Each operator event's guard: the rejection it gets in this state, or null when the machine takes it.
 * The handlers below run exactly these checks first, and after them always accept; so asking the
 * guard is asking the machine (derivePhase does, to enable the UI's buttons).
 */
function startRefusal(s: RolloutState): HandlerOutcome | null {
  return s.phase === "planned" ? null : notAllowed(s, "start", s.endedAt === null ? "the rollout has already started" : phaseReason(s));
}

export function onStart(s: RolloutState, e: Ev<"start">): HandlerOutcome {
  const no = startRefusal(s);
  if (no) return no;
  const d = new Draft(s);
  d.s.startedAt = e.at;
  d.s.currentBatch = 0;
  d.s.phase = "running";
  proceed(d, e.at);
  return accept(d);
}

function approveRefusal(s: RolloutState, e: { batch?: number }): HandlerOutcome | null {
  if (s.phase !== "awaiting-approval") return notAllowed(s, "approve");
  const next = s.cursor.batch + 1;
  if (e.batch !== undefined && e.batch !== next) {
    return reject(
      "STALE_BATCH",
      `Cannot approve batch ${e.batch + 1}: batch ${next + 1} of ${s.batches.length} is the one waiting for approval`,
    );
  }
  return null;
}

export function onApprove(s: RolloutState, e: Ev<"approve">): HandlerOutcome {
  const no = approveRefusal(s, e);
  if (no) return no;
  const next = s.cursor.batch + 1;
  const d = new Draft(s);
  d.s.outstanding = s.outstanding.filter((x) => x.type !== "awaitApproval");
  const b = s.batches[next];
  if (b) {
    d.s.batches = s.batches.slice();
    d.s.batches[next] = { ...b, approvedBy: e.actor, approvedAt: e.at };
  }
  d.s.cursor = cursorAt(s.cursor, "settled");
  d.s.phase = "running";
  proceed(d, e.at);
  return accept(d);
}

function pauseRefusal(s: RolloutState): HandlerOutcome | null {
  if (phaseIn(s, ["awaiting-approval", "baking"])) return null;
  if (!phaseIn(s, ["running", "rolling-back"]) || !stepOutstanding(s)) return notAllowed(s, "pause");
  if (s.pauseRequested) return notAllowed(s, "pause", "a pause is already requested; it takes effect when the current step finishes");
  return null;
}

export function onPause(s: RolloutState, e: Ev<"pause">): HandlerOutcome {
  const no = pauseRefusal(s);
  if (no) return no;
  if (phaseIn(s, ["awaiting-approval", "baking"])) {
    const d = new Draft(s);
    d.s.outstanding = s.outstanding.filter((x) => x.type !== "awaitApproval" && x.type !== "sleep");
    if (s.phase === "baking" && s.bakeUntil !== null) d.s.bakeRemainingMs = Math.max(0, s.bakeUntil - e.at);
    d.s.bakeUntil = null;
    d.s.cursor = cursorAt(s.cursor, "todo");
    d.s.phase = "paused";
    return accept(d);
  }
  const d = new Draft(s);
  d.s.pauseRequested = true;
  return accept(d);
}

function resumeRefusal(s: RolloutState): HandlerOutcome | null {
  if (s.phase === "paused") return null;
  if (s.pauseRequested) return notAllowed(s, "resume", "the pause has not taken effect yet");
  return notAllowed(s, "resume", `the rollout is not paused (${phaseReason(s)})`);
}

export function onResume(s: RolloutState, e: Ev<"resume">): HandlerOutcome {
  const no = resumeRefusal(s);
  if (no) return no;
  const d = new Draft(s);
  d.s.phase = activePhase(d.s);
  proceed(d, e.at);
  return accept(d);
}

function abortRefusal(s: RolloutState): HandlerOutcome | null {
  if (phaseIn(s, ["planned", "running", "awaiting-approval", "baking", "paused", "failed-awaiting-operator", "rolling-back"])) return null;
  return notAllowed(s, "abort");
}

export function onAbort(s: RolloutState, e: Ev<"abort">): HandlerOutcome {
  const no = abortRefusal(s);
  if (no) return no;
  const d = new Draft(s);
  d.s.endedBy = e.actor;
  if (stepOutstanding(s)) {
    d.s.abortRequested = true;
    d.s.rollbackRequested = false;
    d.s.pauseRequested = false;
    d.s.phase = "aborting";
    return accept(d);
  }
  if (s.phase === "planned") {
    finish(d, "aborted", e.at);
    return accept(d);
  }
  beginAbort(d, e.at);
  proceed(d, e.at);
  return accept(d);
}

function rollbackRefusal(s: RolloutState): HandlerOutcome | null {
  if (s.direction === "rollback" || s.rollbackRequested) {
    return notAllowed(s, "rollback", s.phase === "rolling-back" ? phaseReason(s) : "the rollout has already been rolled back once");
  }
  if (!phaseIn(s, ["running", "awaiting-approval", "baking", "paused", "failed-awaiting-operator", "aborting", "aborted"])) {
    return notAllowed(s, "rollback");
  }
  const unknown = unknownFromVersions(s);
  if (unknown.length > 0) {
    return reject(
      "ROLLBACK_UNAVAILABLE",
      `Cannot roll back: the previous version of ${listIds(unknown)} is unknown, so ${unknown.length === 1 ? "it" : "they"} cannot be taken back; abort instead`,
    );
  }
  return null;
}

export function onRollback(s: RolloutState, e: Ev<"rollback">): HandlerOutcome {
  const no = rollbackRefusal(s);
  if (no) return no;
  const d = new Draft(s);
  d.s.endedBy = e.actor;
  if (stepOutstanding(s)) {
    d.s.rollbackRequested = true;
    d.s.abortRequested = false;
    d.s.phase = "rolling-back";
    return accept(d);
  }
  beginRollback(d, e.at);
  proceed(d, e.at);
  return accept(d);
}

function retryRefusal(s: RolloutState): HandlerOutcome | null {
  if (s.phase !== "failed-awaiting-operator" || s.failure === null) return notAllowed(s, "retry-step", `nothing has failed (${phaseReason(s)})`);
  return null;
}

export function onRetryStep(s: RolloutState, e: Ev<"retry-step">): HandlerOutcome {
  const no = retryRefusal(s);
  if (no) return no;
  const f = s.failure;
  if (f === null) return notAllowed(s, "retry-step"); // the guard already refuses this
  const d = new Draft(s);
  d.s.failure = null;
  d.s.cursor = cursorAt(s.cursor, "todo");
  d.s.phase = activePhase(d.s);
  if (f.kind === "capacity") {
    proceed(d, e.at);
    return accept(d);
  }
  if (issueStage(d, e.at, f.ids) === "settled") proceed(d, e.at);
  return accept(d);
}

function skipRefusal(s: RolloutState, e: { instanceId: string }): HandlerOutcome | null {
  const f = s.failure;
  if (s.phase !== "failed-awaiting-operator" || f === null) return notAllowed(s, "skip-instance", `nothing has failed (${phaseReason(s)})`);
  if (s.locator[e.instanceId] === undefined) {
    return reject("UNKNOWN_INSTANCE", `Cannot skip ${e.instanceId}: it is not part of this rollout`);
  }
  const allowed = f.kind === "capacity" ? activeIds(s, f.run, f.batch) : f.ids;
  if (!allowed.includes(e.instanceId)) {
    return reject(
      "INVALID_EVENT",
      f.kind === "capacity"
        ? `Cannot skip ${e.instanceId}: it is not in the batch waiting to start`
        : `Cannot skip ${e.instanceId}: only the failed instances (${listIds(f.ids)}) can be skipped`,
    );
  }
  return null;
}

export function onSkipInstance(s: RolloutState, e: Ev<"skip-instance">): HandlerOutcome {
  const no = skipRefusal(s, e);
  if (no) return no;
  const f = s.failure;
  if (f === null) return notAllowed(s, "skip-instance"); // the guard already refuses this
  const d = new Draft(s);
  const inst = d.patch(e.instanceId, { status: "skipped" });
  d.s.notes = [
    ...s.notes,
    inst.inRotation
      ? `${inst.id} skipped: it stays in rotation on ${inst.version ?? "its old version"}, not updated`
      : `${inst.id} skipped: it stays out of rotation`,
  ];
  const remaining = f.ids.filter((id) => id !== e.instanceId);
  if (f.kind !== "capacity" && remaining.length > 0) {
    d.s.failure = { ...f, ids: remaining };
    return accept(d);
  }
  d.s.failure = null;
  d.s.cursor = cursorAt(s.cursor, f.kind === "capacity" ? "todo" : "settled");
  d.s.phase = activePhase(d.s);
  proceed(d, e.at);
  return accept(d);
}

/** End a bake now (continue-now, or a tick at or after the bake's end). */
export function endBake(s: RolloutState, at: number): HandlerOutcome {
  const d = new Draft(s);
  d.s.outstanding = s.outstanding.filter((x) => x.type !== "sleep");
  d.s.bakeUntil = null;
  d.s.cursor = cursorAt(s.cursor, "settled");
  d.s.phase = "running";
  proceed(d, at);
  return accept(d);
}

function continueRefusal(s: RolloutState): HandlerOutcome | null {
  return s.phase === "baking" ? null : notAllowed(s, "continue-now", `there is no bake to end (${phaseReason(s)})`);
}

export function onContinueNow(s: RolloutState, e: Ev<"continue-now">): HandlerOutcome {
  const no = continueRefusal(s);
  if (no) return no;
  return endBake(s, e.at);
}

/** The rejection an operator event gets in this state, or null when the machine takes it (see the guards above). */
export function operatorRefusal(s: RolloutState, e: OperatorEvent): Rejection | null {
  const no = refusalOutcome(s, e);
  return no?.kind === "reject" ? no.rejection : null;
}

function refusalOutcome(s: RolloutState, e: OperatorEvent): HandlerOutcome | null {
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
