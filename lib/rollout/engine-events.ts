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
import { activePhase, cursorAt, runVersion } from "./cursor";
import { proceed } from "./runs";
import { instanceField, instanceStep } from "./records";
import type { Failure, LockstepFields, RolloutState, StepRecord } from "./state";
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
  const ls = s.lockstep;
  const fresh =
    ls !== null && effect.ids === ls.ids
      ? ls.steps[step].startedAt === null
        ? ls.ids
        : []
      : effect.ids.filter((id) => instanceStep(s, id, step)?.startedAt === null);
  if (fresh.length === 0) return { kind: "unchanged" };
  const d = new Draft(s);
  d.many(fresh, null, step, (prev) => ({ ...prev, startedAt: e.at }));
  return accept(d);
}

type Failed = { message: string; outputTail?: string; exitCode?: number | null };

function tag(v: string | number | null | undefined): string {
  return v === undefined ? "u" : v === null ? "n" : `${typeof v}:${v}`;
}

/** Results that give equal step records have equal keys. */
function resultKey(r: InstanceStepResult | undefined): string {
  return r === undefined ? "u|u|u" : `${tag(r.outputTail)}|${tag(r.message)}|${tag(r.exitCode)}`;
}

/** Beliefs after an instance finished a step well. */
function successPatch(step: StepName, version: string): LockstepFields {
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
  if (e.type !== "step-timed-out" && Array.isArray(e.results)) for (const r of e.results) results.set(r.id, r);
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
  const failedPatch: LockstepFields = step === "deploy" ? { status: "failed", version: null } : { status: "failed" };
  // Instances that did the step well get equal records when their results say the same (usually all
  // of them): the largest such group first, so the lockstep keeps it and the others leave it.
  const failedIds = failures.size === 0 ? [] : effect.ids.filter((id) => failures.has(id));
  const groups: Array<{ result: InstanceStepResult | undefined; ids: string[] }> = [];
  if (results.size === 0) {
    // No per-instance results (the usual report): one group, the effect's own ids when none failed.
    const ids = failures.size === 0 ? effect.ids : effect.ids.filter((id) => !failures.has(id));
    groups.push({ result: undefined, ids });
  } else {
    const byKey = new Map<string, { result: InstanceStepResult | undefined; ids: string[] }>();
    for (const id of effect.ids) {
      if (failures.has(id)) continue;
      const r = results.get(id);
      const key = resultKey(r);
      const g = byKey.get(key);
      if (g) g.ids.push(id);
      else byKey.set(key, { result: r, ids: [id] });
    }
    groups.push(...[...byKey.values()].sort((x, y) => y.ids.length - x.ids.length));
  }
  d.separate(failedIds);
  for (const g of groups) d.many(g.ids, ok, step, (prev) => resultRecord(prev, "done", e.at, g.result));
  for (const id of failedIds) d.setStep(id, step, resultRecord(d.step(id, step), "failed", e.at, failures.get(id)), failedPatch);
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
    d.s.cursor = cursorAt(s.cursor, "failed");
    d.s.phase = "failed-awaiting-operator";
    d.s.pauseRequested = false;
    return accept(d);
  }
  d.s.cursor = cursorAt(s.cursor, "settled");
  d.s.phase = activePhase(d.s);
  proceed(d, e.at);
  return accept(d);
}

export function onDrainObserved(s: RolloutState, e: Ev<"drain-observed">): HandlerOutcome {
  let d: Draft | null = null;
  for (const [id, n] of Object.entries(e.inFlight ?? {})) {
    if (s.locator[id] === undefined || typeof n !== "number") continue;
    if (instanceField(d?.s ?? s, id, "inFlight") === n) continue;
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
    const cur = d?.s ?? s;
    const status = instanceField(cur, id, "status");
    if (status === undefined) continue;
    const inBatch = !ended && (status === "running" || status === "failed");
    const wasInRotation = instanceField(cur, id, "inRotation");
    const inRotation = inBatch ? wasInRotation === true : lbState === "in-service";
    if (instanceField(cur, id, "lbState") === lbState && wasInRotation === inRotation) continue;
    d ??= new Draft(s);
    d.patch(id, { lbState, inRotation });
  }
  return d ? accept(d) : { kind: "unchanged" };
}

export function onTick(s: RolloutState, e: Ev<"tick">): HandlerOutcome {
  if (s.phase === "baking" && s.bakeUntil !== null && e.at >= s.bakeUntil) return endBake(s, e.at);
  return { kind: "unchanged" };
}
