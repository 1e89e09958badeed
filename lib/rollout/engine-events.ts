/**
 * Engine events: step-started, step-succeeded, step-failed, step-timed-out, analysis-finished,
 * drain-observed, health-observed, tick.
 *
 * A step result must name an outstanding effect (else UNKNOWN_EFFECT: a late or duplicated report
 * changes nothing). `step-failed` marks the instances whose result is not ok (and those it does not
 * mention) failed at the step; the others have the step done. `step-timed-out` marks the ids it names
 * (all of the effect's when it names none) timed out. Once no effect of the stage is outstanding, any
 * failure stops the rollout for the operator — except in abort's return run, which leaves the failed
 * instances out (with a note) and returns the others. Observations never change the phase.
 *
 * What a result says about the server (the beliefs abort relies on):
 *   stop ok → stopped; deploy ok → on the version; verify ok → serving that version;
 *   a hook that failed with `changed: false` (it refused before changing anything) leaves the beliefs
 *   as they were; any other hook failure makes the server unknown (and a failed deploy, its version).
 */
import { endBake } from "./operator-events";
import { listIds } from "./plan";
import { activePhase, freshSteps, setCursor, stepIds, versionFor } from "./cursor";
import { proceed, setFailure } from "./runs";
import { setInRotation, type InstanceState, type RolloutState, type StepRecord, getInstance } from "./state";
import { analysisAction, describeAnalysis } from "./analysis-stage";
import type { BatchAnalysis, Effect, InstanceStepResult, Rejection, RolloutEvent, StepName } from "./types";

type Ev<T extends RolloutEvent["type"]> = Extract<RolloutEvent, { type: T }>;
type StepResultEvent = Ev<"step-succeeded" | "step-failed" | "step-timed-out">;

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
    case "scaleGroup":
      return effect.step;
    case "terminate":
      return "terminate";
    case "analyze":
    case "awaitApproval":
    case "sleep":
      return null;
  }
}

function findEffect(s: RolloutState, effectId: string): Effect | undefined {
  return s.outstanding.find((e) => e.effectId === effectId);
}

/** The rejection a step report gets now, or null. */
export function stepReportRefusal(s: RolloutState, e: Ev<"step-started"> | StepResultEvent): Rejection | null {
  const effect = findEffect(s, e.effectId);
  if (!effect) return { code: "UNKNOWN_EFFECT", message: `No outstanding effect ${e.effectId}: the report is late, duplicated or for another rollout` };
  if (e.type !== "step-started" && effectStep(effect) === null && !(effect.type === "sleep" && e.type === "step-succeeded")) {
    const waits = effect.type === "sleep" ? "the bake to end" : effect.type === "analyze" ? "its analysis-finished report" : "an operator's approval";
    return { code: "INVALID_EVENT", message: `${effect.effectId} waits for ${waits}, not for ${e.type}` };
  }
  return null;
}

export function onStepStarted(s: RolloutState, e: Ev<"step-started">): void {
  const effect = findEffect(s, e.effectId);
  const step = effect ? effectStep(effect) : null;
  if (!effect || step === null || !("ids" in effect)) return;
  for (const id of effect.ids) {
    const rec = getInstance(s, id)?.steps[step];
    if (rec && rec.startedAt === null) rec.startedAt = e.at;
  }
}

/** Beliefs after an instance finished a step well. */
function succeeded(s: RolloutState, inst: InstanceState, step: StepName, version: string): void {
  switch (step) {
    case "deregister":
      inst.registered = false;
      setInRotation(s, inst, false);
      return;
    case "drain":
      inst.inFlight = 0;
      return;
    case "stop":
      inst.server = "stopped";
      return;
    case "deploy":
      inst.version = version;
      return;
    case "start":
      // Started, but nobody knows what it serves until verify says so.
      return;
    case "verify":
      inst.version = version;
      inst.server = "serving";
      return;
    case "register":
      inst.registered = true;
      return;
    case "wait-in-service":
      setInRotation(s, inst, true);
      inst.lbState = "in-service";
      return;
    case "terminate":
      inst.server = "terminated";
      inst.registered = false;
      setInRotation(s, inst, false);
      inst.lbState = null;
      return;
    case "launch":
    case "replace":
      return;
  }
}

/**
 * Replace: the instances a scaleGroup effect reports that the rollout does not know yet join it, in
 * service (the effect waited for that) and on the run's batch, to be verified before the batch ends.
 */
function addLaunched(s: RolloutState, effect: Extract<Effect, { type: "scaleGroup" }>, e: StepResultEvent): void {
  if (e.type === "step-timed-out" || !Array.isArray(e.results)) return;
  const c = s.cursor;
  for (const r of e.results) {
    const known = getInstance(s, r.id);
    if (known && r.gone && known.server !== "terminated") {
      // The group terminated it on its own (abort shrinking it back, a health replacement): it is gone.
      known.server = "terminated";
      known.registered = false;
      known.lbState = null;
      setInRotation(s, known, false);
      s.notes.push(`${r.id} left ${effect.group}: ${r.message ?? "the group terminated it"}`);
      continue;
    }
    if (!r.ok || known || effect.ids.includes(r.id)) continue;
    const steps = freshSteps();
    steps[effect.step] = { status: "done", issuedAt: e.at, startedAt: e.at, endedAt: e.at, attempts: 1, ...(r.message ? { message: r.message } : {}) };
    const inst: InstanceState = {
      id: r.id,
      zone: r.zone ?? "",
      fromVersion: null,
      targetVersion: s.plan.targetVersion,
      batch: c.run === "forward" ? c.batch : Math.max(0, s.currentBatch),
      rollbackBatch: c.run === "rollback" ? c.batch : null,
      inServiceAtStart: false,
      status: "running",
      step: effect.step,
      steps,
      forward: null,
      touched: true,
      registered: true,
      inRotation: false,
      // In service at every load balancer already (the group registered it, the effect waited): it serves,
      // which version is what verify says.
      server: "serving",
      version: null,
      lbState: "in-service",
      inFlight: null,
      launched: { at: e.at, launchVersion: effect.launchVersion },
    };
    if (r.alsoIn && r.alsoIn.length > 0) inst.alsoIn = [...r.alsoIn];
    s.positions[r.id] = s.instances.length;
    s.instances.push(inst);
    setInRotation(s, inst, true);
    const batch = c.run === "forward" ? s.batches[c.batch] : c.run === "rollback" ? s.rollbackBatches[c.batch] : undefined;
    if (batch) batch.newIds = [...(batch.newIds ?? []), r.id];
  }
}

/** Beliefs after an instance's step failed; `changed: false` means it failed before changing anything. */
function failed(inst: InstanceState, step: StepName, changed: boolean): void {
  inst.status = "failed";
  if (!changed) {
    // A stop or start that refused: the server is as it was before the step.
    if (step === "stop") inst.server = "serving";
    if (step === "start") inst.server = "stopped";
    return;
  }
  if (step === "stop" || step === "start" || step === "verify") inst.server = "unknown";
  if (step === "deploy") inst.version = null;
}

interface Outcome {
  status: StepRecord["status"];
  message?: string;
  outputTail?: string;
  exitCode?: number | null;
  changed: boolean;
}

/** Each instance's outcome from the report. */
function outcomes(effect: Effect & { ids: string[] }, step: StepName, e: StepResultEvent): Map<string, Outcome> {
  const results = new Map<string, InstanceStepResult>();
  // Events come back from a JSON log: tolerate missing lists rather than throw during a replay.
  if (e.type !== "step-timed-out" && Array.isArray(e.results)) for (const r of e.results) results.set(r.id, r);
  const out = new Map<string, Outcome>();
  const okOf = (r: InstanceStepResult | undefined): Outcome => ({ status: "done", message: r?.message, outputTail: r?.outputTail, exitCode: r?.exitCode, changed: true });
  if (e.type === "step-succeeded") {
    for (const id of effect.ids) out.set(id, okOf(results.get(id)));
  } else if (e.type === "step-failed") {
    for (const id of effect.ids) {
      const r = results.get(id);
      if (r?.ok) out.set(id, okOf(r));
      else out.set(id, { status: "failed", message: r?.message ?? e.message, outputTail: r?.outputTail, exitCode: r?.exitCode, changed: r?.changed !== false });
    }
    // A failure that names no failed instance holds up all of them.
    if ([...out.values()].every((o) => o.status === "done")) {
      for (const id of effect.ids) out.set(id, { status: "failed", message: e.message, outputTail: results.get(id)?.outputTail, changed: true });
    }
  } else {
    const named = new Set((Array.isArray(e.ids) ? e.ids : []).filter((id) => effect.ids.includes(id)));
    for (const id of effect.ids) {
      if (named.size === 0 || named.has(id)) out.set(id, { status: "timed-out", message: e.message || `${step} timed out`, changed: true });
      else out.set(id, okOf(undefined));
    }
  }
  return out;
}

function describeFailure(step: StepName, ids: string[], first: StepRecord | undefined): string {
  const on = `${step} on ${listIds(ids)}`;
  if (first?.status === "timed-out") return `${on} timed out${first.message ? `: ${first.message}` : ""}`;
  if (first?.exitCode !== undefined && first.exitCode !== null) return `${on} exited ${first.exitCode}`;
  return `${on} failed: ${first?.message || "no reason given"}`;
}

export function onStepResult(s: RolloutState, e: StepResultEvent): void {
  const effect = findEffect(s, e.effectId);
  if (!effect) return;
  const step = effectStep(effect);
  if (step === null || !("ids" in effect)) {
    if (effect.type === "sleep") endBake(s, e.at);
    return;
  }
  s.outstanding = s.outstanding.filter((x) => x.effectId !== effect.effectId);
  const c = s.cursor;
  if (effect.type === "scaleGroup") addLaunched(s, effect, e);
  for (const [id, o] of outcomes(effect, step, e)) {
    const inst = getInstance(s, id);
    if (!inst) continue;
    const prev = inst.steps[step];
    const rec: StepRecord = { status: o.status, issuedAt: prev.issuedAt, startedAt: prev.startedAt, endedAt: e.at, attempts: prev.attempts };
    if (o.outputTail !== undefined) rec.outputTail = o.outputTail;
    if (o.message !== undefined) rec.message = o.message;
    if (o.exitCode !== undefined) rec.exitCode = o.exitCode;
    inst.steps[step] = rec;
    if (o.status === "done") succeeded(s, inst, step, versionFor(s, c.run, c.batch, inst));
    else failed(inst, step, o.status === "timed-out" || o.changed);
  }
  // A stage of several effects (one per version) settles when the last of them reports.
  if (s.outstanding.some((x) => "ids" in x && effectStep(x) === step)) return;
  const failedIds = stepIds(s, c.run, c.batch, step).filter((id) => {
    const inst = getInstance(s, id);
    return inst?.status === "failed" && inst.step === step;
  });
  if (failedIds.length > 0 && c.run === "return") {
    // Abort's return is best effort: an instance that cannot be returned stays out, the rest go on.
    const dropped = new Set(failedIds);
    s.returning = s.returning.filter((id) => !dropped.has(id));
    for (const id of failedIds) s.notes.push(`${id} stays out of rotation: returning it failed at ${step} (${getInstance(s, id)?.steps[step].message ?? "no reason given"})`);
  } else if (failedIds.length > 0 && !s.abortRequested && !s.rollbackRequested) {
    const first = getInstance(s, failedIds[0] ?? "")?.steps[step];
    setFailure(s, {
      kind: first?.status === "timed-out" ? "timeout" : "step-failed",
      run: c.run,
      batch: c.batch,
      step,
      ids: failedIds,
      message: describeFailure(step, failedIds, first),
      at: e.at,
    });
    return;
  }
  setCursor(s, "settled");
  s.phase = activePhase(s);
  proceed(s, e.at);
}

/** The rejection an analysis report gets now, or null. */
export function analysisReportRefusal(s: RolloutState, e: Ev<"analysis-finished">): Rejection | null {
  const effect = findEffect(s, e.effectId);
  if (!effect) return { code: "UNKNOWN_EFFECT", message: `No outstanding effect ${e.effectId}: the analysis report is late, duplicated or for another rollout` };
  if (effect.type !== "analyze") return { code: "INVALID_EVENT", message: `${effect.effectId} is not an analysis` };
  const v = (e.analysis as { verdict?: unknown } | undefined)?.verdict;
  if (v !== "pass" && v !== "fail" && v !== "inconclusive") return { code: "INVALID_EVENT", message: "An analysis report needs a verdict: pass, fail or inconclusive" };
  return null;
}

/** The verdict, recorded on the batch, and the policy applied (analysis-stage.ts). */
export function onAnalysisFinished(s: RolloutState, e: Ev<"analysis-finished">): void {
  const effect = findEffect(s, e.effectId);
  if (!effect || effect.type !== "analyze") return;
  s.outstanding = s.outstanding.filter((x) => x.effectId !== effect.effectId);
  const { action, note } = analysisAction(s, e.analysis);
  const record: BatchAnalysis = { ...e.analysis, action, ...(note ? { note } : {}) };
  const batch = s.batches[effect.batch];
  if (batch) batch.analysis = record;
  setCursor(s, "settled");
  if (action !== "continued") s.notes.push(describeAnalysis(effect.batch, record));
  if (action === "paused") {
    s.pauseRequested = false;
    s.phase = "paused";
    return;
  }
  if (action === "rolled-back") {
    s.rollbackRequested = true;
    s.abortRequested = false;
    s.endedBy = "the batch analysis";
  }
  s.phase = activePhase(s);
  proceed(s, e.at);
}

export function onDrainObserved(s: RolloutState, e: Ev<"drain-observed">): void {
  for (const [id, n] of Object.entries(e.inFlight ?? {})) {
    const inst = getInstance(s, id);
    if (inst && typeof n === "number" && inst.inFlight !== n) inst.inFlight = n;
  }
}

/**
 * Record the load balancer's view. For instances outside the batch in progress (not running or failed
 * in it), it also sets the in-service belief the capacity guard counts; inside the batch the machine's
 * own steps decide.
 */
export function onHealthObserved(s: RolloutState, e: Ev<"health-observed">): void {
  const noBatch = s.phase === "planned" || s.phase === "succeeded" || s.phase === "aborted" || s.phase === "rolled-back";
  for (const [id, lbState] of Object.entries(e.states ?? {})) {
    const inst = getInstance(s, id);
    if (!inst) continue;
    const inBatch = !noBatch && (inst.status === "running" || inst.status === "failed");
    const inRotation = inBatch ? inst.inRotation : lbState === "in-service";
    if (inst.lbState !== lbState) inst.lbState = lbState;
    setInRotation(s, inst, inRotation);
  }
}

export function onTick(s: RolloutState, e: Ev<"tick">): void {
  if (s.phase === "baking" && s.bakeUntil !== null && e.at >= s.bakeUntil) endBake(s, e.at);
}
