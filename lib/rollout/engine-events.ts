/**
 * Engine events: step-started, step-succeeded, step-failed, step-timed-out, drain-observed,
 * health-observed, tick.
 *
 * A step result must name an outstanding effect (else UNKNOWN_EFFECT: a late or duplicated report
 * changes nothing). `step-failed` marks the instances whose result is not ok (and those it does not
 * mention) failed at the step; the others have the step done. `step-timed-out` does the same for
 * the ids it names (all of the effect's when it names none). Observations never change the phase.
 */
import { Draft, accept, reject, type HandlerOutcome } from "./draft";
import { endBake } from "./operator-events";
import { listIds } from "./plan";
import { activePhase, proceed, runVersion } from "./runs";
import { getInstance, type Failure, type InstanceState, type RolloutState, type StepRecord } from "./state";
import type { Effect, InstanceStepResult, RolloutEvent, StepName } from "./types";

type Ev<T extends RolloutEvent["type"]> = Extract<RolloutEvent, { type: T }>;

export function effectStep(effect: Effect): StepName | null {
  switch (effect.type) {
    case "deregister":
      return "deregister";
    case "waitDrain":
      return "drain";
    case "runHook":
      return effect.hook;
    case "register":
      return "register";
    case "waitInService":
      return "wait-in-service";
    case "awaitApproval":
    case "sleep":
      return null;
  }
}

function findEffect(s: RolloutState, effectId: string): Effect | undefined {
  return s.outstanding.find((e) => e.effectId === effectId);
}

function unknownEffect(effectId: string): HandlerOutcome {
  return reject("UNKNOWN_EFFECT", `No outstanding effect ${effectId}: the report is late, duplicated or for another rollout`);
}

export function onStepStarted(s: RolloutState, e: Ev<"step-started">): HandlerOutcome {
  const effect = findEffect(s, e.effectId);
  if (!effect) return unknownEffect(e.effectId);
  const step = effectStep(effect);
  if (step === null || !("ids" in effect)) return { kind: "unchanged" };
  let d: Draft | null = null;
  const shared = new Map<StepRecord, StepRecord>();
  for (const id of effect.ids) {
    const inst = getInstance(d?.s ?? s, id);
    if (inst === undefined) continue;
    const prev = inst.steps[step];
    if (prev.startedAt !== null) continue;
    d ??= new Draft(s);
    let rec = shared.get(prev);
    if (rec === undefined) {
      rec = { ...prev, startedAt: e.at };
      shared.set(prev, rec);
    }
    d.setStep(id, step, rec);
  }
  return d ? accept(d) : { kind: "unchanged" };
}

type Failed = { message: string; outputTail?: string; exitCode?: number | null };

/** Beliefs after an instance finished a step well. */
function successPatch(step: StepName, version: string): Partial<InstanceState> {
  switch (step) {
    case "deregister":
      return { registered: false, inRotation: false };
    case "drain":
      return { inFlight: 0 };
    case "deploy":
      return { version };
    case "verify":
      return { version, healthy: true };
    case "register":
      return { registered: true };
    case "wait-in-service":
      return { inRotation: true, lbState: "in-service" };
    case "stop":
    case "start":
      return {};
  }
}

/** The step's record once finished. Lockstep instances share their record, so memoize by the previous one. */
function resultRecord(prev: StepRecord, status: "done" | "failed", at: number, r: Partial<Failed> | undefined): StepRecord {
  const rec: StepRecord = { status, issuedAt: prev.issuedAt, startedAt: prev.startedAt, endedAt: at, attempts: prev.attempts };
  if (r?.outputTail !== undefined) rec.outputTail = r.outputTail;
  if (r?.message !== undefined) rec.message = r.message;
  if (r?.exitCode !== undefined) rec.exitCode = r.exitCode;
  return rec;
}

function describeFailure(step: StepName, ids: string[], first: Failed | undefined, timeout: boolean, eventMessage: string): string {
  const on = `${step} on ${listIds(ids)}`;
  if (timeout) return `${on} timed out${eventMessage ? `: ${eventMessage}` : ""}`;
  if (first?.exitCode !== undefined && first.exitCode !== null) return `${on} exited ${first.exitCode}`;
  return `${on} failed: ${first?.message || eventMessage || "no reason given"}`;
}

export function onStepResult(s: RolloutState, e: Ev<"step-succeeded" | "step-failed" | "step-timed-out">): HandlerOutcome {
  const effect = findEffect(s, e.effectId);
  if (!effect) return unknownEffect(e.effectId);
  const step = effectStep(effect);
  if (step === null || !("ids" in effect)) {
    if (effect.type === "sleep" && e.type === "step-succeeded") return endBake(s, e.at);
    return reject("INVALID_EVENT", `${effect.effectId} waits for ${effect.type === "sleep" ? "the bake to end" : "an operator's approval"}, not for ${e.type}`);
  }
  const results = new Map<string, InstanceStepResult>();
  // Events come back from a JSON log: tolerate missing lists rather than throw during a replay.
  for (const r of e.type === "step-timed-out" || !Array.isArray(e.results) ? [] : e.results) results.set(r.id, r);
  const failures = new Map<string, Failed>();
  if (e.type === "step-failed") {
    for (const id of effect.ids) {
      const r = results.get(id);
      if (r === undefined || !r.ok) failures.set(id, { message: r?.message ?? e.message, outputTail: r?.outputTail, exitCode: r?.exitCode });
    }
    if (failures.size === 0) for (const id of effect.ids) failures.set(id, { message: e.message, outputTail: results.get(id)?.outputTail });
  } else if (e.type === "step-timed-out") {
    const named = new Set((Array.isArray(e.ids) ? e.ids : []).filter((id) => effect.ids.includes(id)));
    for (const id of effect.ids) if (named.size === 0 || named.has(id)) failures.set(id, { message: e.message || `${step} timed out` });
  }

  const d = new Draft(s);
  d.s.outstanding = s.outstanding.filter((x) => x.effectId !== effect.effectId);
  const version = runVersion(s, s.cursor.run, s.cursor.batch);
  const ok = successPatch(step, version);
  const failedIds: string[] = [];
  const failedPatch: Partial<InstanceState> = step === "deploy" ? { status: "failed", version: null } : { status: "failed" };
  const shared = new Map<StepRecord, StepRecord>();
  for (const id of effect.ids) {
    const f = failures.get(id);
    const prev = d.get(id).steps[step];
    if (f) {
      failedIds.push(id);
      d.setStep(id, step, resultRecord(prev, "failed", e.at, f), failedPatch);
      continue;
    }
    const r = results.get(id);
    let rec = r === undefined ? shared.get(prev) : undefined;
    if (rec === undefined) {
      rec = resultRecord(prev, "done", e.at, r);
      if (r === undefined) shared.set(prev, rec);
    }
    d.setStep(id, step, rec, ok);
  }
  if (failedIds.length > 0 && !d.s.abortRequested && !d.s.rollbackRequested) {
    const first = failures.get(failedIds[0] ?? "");
    const timeout = e.type === "step-timed-out";
    const failure: Failure = {
      kind: timeout ? "timeout" : "step-failed",
      run: s.cursor.run,
      batch: s.cursor.batch,
      step,
      ids: failedIds,
      message: describeFailure(step, failedIds, first, timeout, e.type === "step-succeeded" ? "" : e.message),
      at: e.at,
    };
    d.s.failure = failure;
    d.s.cursor = { ...s.cursor, status: "failed" };
    d.s.phase = "failed-awaiting-operator";
    d.s.pauseRequested = false;
    return accept(d);
  }
  d.s.cursor = { ...s.cursor, status: "settled" };
  d.s.phase = activePhase(d.s);
  proceed(d, e.at);
  return accept(d);
}

export function onDrainObserved(s: RolloutState, e: Ev<"drain-observed">): HandlerOutcome {
  let d: Draft | null = null;
  for (const [id, n] of Object.entries(e.inFlight ?? {})) {
    if (s.locator[id] === undefined || typeof n !== "number") continue;
    if (getInstance(d?.s ?? s, id)?.inFlight === n) continue;
    d ??= new Draft(s);
    d.patch(id, { inFlight: n });
  }
  return d ? accept(d) : { kind: "unchanged" };
}

/** Phases with no batch in progress. */
const NO_BATCH = new Set(["planned", "succeeded", "aborted", "rolled-back"]);

/**
 * Record the load balancer's view. For instances outside the batch in progress (not running or failed
 * in it), it also sets the in-service belief the capacity guard counts; inside the batch the machine's
 * own steps decide.
 */
export function onHealthObserved(s: RolloutState, e: Ev<"health-observed">): HandlerOutcome {
  let d: Draft | null = null;
  const ended = NO_BATCH.has(s.phase);
  for (const [id, lbState] of Object.entries(e.states ?? {})) {
    if (s.locator[id] === undefined) continue;
    const inst = getInstance(d?.s ?? s, id);
    if (inst === undefined) continue;
    const inBatch = !ended && (inst.status === "running" || inst.status === "failed");
    const inRotation = inBatch ? inst.inRotation : lbState === "in-service";
    if (inst.lbState === lbState && inst.inRotation === inRotation) continue;
    d ??= new Draft(s);
    d.patch(id, { lbState, inRotation });
  }
  return d ? accept(d) : { kind: "unchanged" };
}

export function onTick(s: RolloutState, e: Ev<"tick">): HandlerOutcome {
  if (s.phase === "baking" && s.bakeUntil !== null && e.at >= s.bakeUntil) return endBake(s, e.at);
  return { kind: "unchanged" };
}
