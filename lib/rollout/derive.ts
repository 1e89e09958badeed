/**
 * What the UI shows about a rollout, derived from its state (never stored twice, never recomputed in
 * the UI): the phase, one human message, the percent done, every operator action with whether it is
 * allowed now (and why not), and the capacity numbers.
 *
 * The message comes from ordered guards, first match wins (like Argo Rollouts' CalculateRolloutPhase):
 *   ended (succeeded, rolled back, aborted) → failure waiting for the operator → not started → paused →
 *   waiting for approval → baking → aborting → rolling back → running.
 * Examples:
 *   "Batch 2 of 3: draining i-local-3, i-local-4 (4 requests in flight)"
 *   "Waiting for approval of batch 3 of 3"
 *   "Failed: deploy on i-local-2 exited 1 — retry the step, skip the instance, roll back or abort"
 *
 * Whether an action is enabled is decided by the state machine itself: derivePhase asks the machine's
 * own guard for the event (`operatorRejection`, the checks `transition` runs before it accepts) and
 * shows the rejection's message as the reason, so the buttons can never disagree with the machine.
 */
import { operatorRejection } from "./machine";
import { listIds } from "./plan";
import { getInstance, inServiceCount, listInstances, type InstanceState, type RolloutState } from "./state";
import { type OperatorEvent, type OperatorEventType, type RolloutPhase, type StepName } from "./types";
import { forwardSteps, runSteps } from "./cursor";

export interface NextAction {
  action: OperatorEventType;
  label: string;
  enabled: boolean;
  /** Why it is disabled (the machine's own rejection message). */
  reason?: string;
  /** Needs a confirmation in the UI. */
  destructive: boolean;
  /** For skip-instance: the instance it skips. */
  instanceId?: string;
}

export interface DerivedView {
  phase: RolloutPhase;
  message: string;
  /** 0–100, whole numbers. */
  progress: number;
  nextActions: NextAction[];
  capacity: { inService: number; minHealthy: number };
}

function batchIds(s: RolloutState): string[] {
  const c = s.cursor;
  if (c.run === "return") return s.returning;
  return (c.run === "rollback" ? s.rollbackBatches[c.batch]?.instanceIds : s.batches[c.batch]?.instanceIds) ?? [];
}

function batchLabel(s: RolloutState, batch = s.cursor.batch): string {
  return s.direction === "rollback"
    ? `Rollback batch ${batch + 1} of ${s.rollbackBatches.length}`
    : `Batch ${batch + 1} of ${s.batches.length}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** "draining i-3, i-4 (4 requests in flight)" for the step in progress. */
function stepDoing(s: RolloutState, step: StepName, ids: string[], version: string): string {
  const who = listIds(ids);
  switch (step) {
    case "deregister":
      return `taking ${who} out of rotation`;
    case "drain": {
      const inFlight = s.outstanding.length > 0 ? sumInFlight(s, ids) : null;
      return `draining ${who}${inFlight === null ? "" : ` (${plural(inFlight, "request")} in flight)`}`;
    }
    case "stop":
      return `stopping ${who}`;
    case "deploy":
      return `deploying ${version} to ${who}`;
    case "start":
      return `starting ${who}`;
    case "verify":
      return `verifying ${version} on ${who}`;
    case "register":
      return `putting ${who} back into rotation`;
    case "wait-in-service":
      return `waiting for ${who} to be in service`;
    case "launch":
      return groupDoing(s, "launch", who);
    case "terminate":
      return `terminating ${who} in ${s.plan.replace?.group ?? "the group"}`;
    case "replace":
      return groupDoing(s, "replace", who);
  }
}

/** Replace: what the outstanding group effect waits for. */
function groupDoing(s: RolloutState, step: "launch" | "replace", who: string): string {
  const e = s.outstanding.find((x) => x.type === "scaleGroup");
  const group = s.plan.replace?.group ?? "the group";
  if (!e || e.type !== "scaleGroup") return step === "launch" ? `pointing ${group} at its launch version` : `waiting for ${group} to replace ${who}`;
  const wants = e.want > 0 ? `, waiting for ${plural(e.want, "new instance")} from launch version ${e.launchVersion} to be in service` : "";
  return step === "launch"
    ? `${group} → launch version ${e.launchVersion}, desired ${e.desired}${wants}`
    : `waiting for ${group} to replace ${who} (desired ${e.desired}${wants})`;
}

function sumInFlight(s: RolloutState, ids: string[]): number | null {
  let total = 0;
  let known = false;
  for (const id of ids) {
    const n = getInstance(s, id)?.inFlight;
    if (typeof n === "number") {
      total += n;
      known = true;
    }
  }
  return known ? total : null;
}

function formatDuration(ms: number): string {
  const sec = Math.max(0, Math.ceil(ms / 1000));
  if (sec < 60) return `${sec}s`;
  const m = Math.floor(sec / 60);
  const r = sec % 60;
  return r === 0 ? `${m}m` : `${m}m ${r}s`;
}

function currentWork(s: RolloutState): string {
  const effect = s.outstanding[0];
  const c = s.cursor;
  if (effect?.type === "analyze") {
    const against = effect.old.length > 0 ? `, comparing with ${plural(effect.old.length, "instance")} on the old version` : "";
    const alarms = effect.alarms.length > 0 ? `${against ? " and" : ","} watching ${plural(effect.alarms.length, "alarm")}` : "";
    return `${batchLabel(s)}: analysing ${listIds(effect.fresh)} for ${formatDuration(effect.windowMs)}${against}${alarms}`;
  }
  if (!effect || !("ids" in effect) || c.stage === "gate" || c.stage === "analysis") return `${batchLabel(s)}: between steps`;
  const version = effect.type === "runHook" ? effect.params.version : s.plan.targetVersion;
  return `${batchLabel(s)}: ${stepDoing(s, c.stage, effect.ids, version)}`;
}

/** " (i-3 skipped, out of rotation; i-5 skipped, not updated)" — or nothing when nothing was skipped. */
function skippedNote(all: readonly InstanceState[]): string {
  const skipped = all.filter((i) => i.status === "skipped");
  const out = skipped.filter((i) => !i.inRotation).map((i) => i.id);
  const kept = skipped.filter((i) => i.inRotation).map((i) => i.id);
  const parts: string[] = [];
  if (out.length > 0) parts.push(`${listIds(out)} skipped, out of rotation`);
  if (kept.length > 0) parts.push(`${listIds(kept)} skipped, not updated`);
  return parts.length === 0 ? "" : ` (${parts.join("; ")})`;
}

/** The one-line message, through ordered guards. */
export function deriveMessage(s: RolloutState, now: number, all: readonly InstanceState[] = listInstances(s)): string {
  const n = s.plan.fleetSize;
  const c = s.cursor;
  switch (s.phase) {
    case "succeeded":
      return `Rolled out ${s.plan.targetVersion} to ${all.filter((i) => i.status === "done").length} of ${plural(n, "instance")}${skippedNote(all)}`;
    case "rolled-back": {
      const back = all.filter((i) => i.rollbackBatch !== null && i.status === "done").length;
      return `Rolled back ${plural(back, "instance")} to their previous version${skippedNote(all)}`;
    }
    case "aborted":
      return s.leftOut.length === 0
        ? `Aborted${s.endedBy ? ` by ${s.endedBy}` : ""}: every instance is back in rotation`
        : `Aborted${s.endedBy ? ` by ${s.endedBy}` : ""}: ${listIds(s.leftOut)} ${s.leftOut.length === 1 ? "is" : "are"} out of rotation (stopped, failed or skipped) — roll back to restore ${s.leftOut.length === 1 ? "it" : "them"}`;
    case "failed-awaiting-operator": {
      const f = s.failure;
      if (f?.kind === "capacity") return `Waiting: ${f.message} — retry when capacity recovers, skip an instance, roll back or abort`;
      return `Failed: ${f?.message ?? "a step failed"} — retry the step, skip the instance, roll back or abort`;
    }
    case "planned":
      return `Ready: ${s.batches.length} ${s.batches.length === 1 ? "batch" : "batches"} of up to ${s.plan.batchSize}, keeping at least ${s.plan.minHealthy} of ${n} in service`;
    case "paused": {
      const judged = c.stage === "analysis" ? s.batches[c.batch]?.analysis : undefined;
      if (judged) {
        const verdict = judged.verdict === "fail" ? "failed" : "was inconclusive";
        return `Paused: batch ${c.batch + 1}'s analysis ${verdict}${judged.reasons[0] ? ` (${judged.reasons[0].replace(/\.$/, "")})` : ""} — resume to accept the batch and go on, roll back or abort`;
      }
      if (c.stage === "gate" && c.batch < 0) return "Paused before batch 1: resume to wait for its approval";
      if (c.stage === "gate") return `Paused after ${batchLabel(s).toLowerCase()}: resume to ${s.mode.kind === "manual" ? "wait for approval" : "bake"}`;
      const done = c.stage !== "analysis" && runSteps(s, c.run).indexOf(c.stage) > 0 && c.status === "todo" ? ` before ${c.stage}` : "";
      return `Paused: ${batchLabel(s).toLowerCase()}${done} — resume to go on${skippedNote(all)}`;
    }
    case "awaiting-approval":
      if (c.batch < 0) return `Waiting for approval of batch 1 of ${s.batches.length} before anything is taken out of rotation`;
      return `Waiting for approval of batch ${c.batch + 2} of ${s.batches.length}${skippedNote(all)}`;
    case "baking":
      return `Baking batch ${c.batch + 1} of ${s.batches.length}: ${formatDuration((s.bakeUntil ?? now) - now)} left`;
    case "aborting":
      if (s.abortRequested) return `Aborting: waiting for the current step to finish — ${currentWork(s)}`;
      return `Aborting: ${currentWork(s).replace(/^[^:]*: /, "")}`;
    case "rolling-back":
      if (s.rollbackRequested) return `Rolling back once the current step finishes — ${currentWork(s)}`;
      return currentWork(s) + skippedNote(all);
    case "running":
      return currentWork(s) + (s.pauseRequested ? " — pausing after this step" : "") + skippedNote(all);
  }
}

/** Steps done over steps to do, for the direction in progress. Skipped instances count as done. */
export function deriveProgress(s: RolloutState, all?: readonly InstanceState[]): number {
  if (s.phase === "succeeded" || s.phase === "rolled-back") return 100;
  if (s.phase === "planned") return 0;
  const scope = s.direction === "rollback" ? (all ?? listInstances(s)).filter((i) => i.rollbackBatch !== null) : (all ?? listInstances(s));
  if (scope.length === 0) return 0;
  let done = 0;
  const steps = forwardSteps(s);
  for (const i of scope) {
    if (i.status === "skipped" || i.status === "done") done += steps.length;
    else for (const step of steps) if (i.steps[step].status === "done") done++;
  }
  return Math.min(100, Math.floor((100 * done) / (scope.length * steps.length)));
}

const DESTRUCTIVE: ReadonlySet<OperatorEventType> = new Set(["abort", "rollback", "skip-instance"]);

function tryAction(s: RolloutState, now: number, event: OperatorEvent, label: string, instanceId?: string): NextAction {
  const rejection = operatorRejection(s, { ...event, at: now });
  const a: NextAction = { action: event.type, label, enabled: rejection === null, destructive: DESTRUCTIVE.has(event.type) };
  if (rejection !== null) a.reason = rejection.message;
  if (instanceId !== undefined) a.instanceId = instanceId;
  return a;
}

export function deriveActions(s: RolloutState, now: number): NextAction[] {
  const nextBatch = s.phase === "awaiting-approval" ? s.cursor.batch + 1 : Math.max(0, s.currentBatch + 1);
  const f = s.failure;
  const actions = [
    tryAction(s, now, { type: "start" }, "Start"),
    tryAction(s, now, s.phase === "awaiting-approval" ? { type: "approve", batch: nextBatch } : { type: "approve" }, `Approve batch ${nextBatch + 1}`),
    tryAction(s, now, { type: "pause" }, "Pause"),
    tryAction(s, now, { type: "resume" }, "Resume"),
    tryAction(s, now, { type: "continue-now" }, "Continue now"),
    tryAction(s, now, { type: "abort" }, "Abort"),
    tryAction(s, now, { type: "rollback" }, "Roll back"),
    tryAction(s, now, { type: "retry-step" }, f ? (f.kind === "capacity" ? `Retry batch ${f.batch + 1}` : `Retry ${f.step} on ${listIds(f.ids)}`) : "Retry step"),
  ];
  const skippable = f ? (f.kind === "capacity" ? batchIds(s) : f.ids) : [];
  if (skippable.length === 0) actions.push(tryAction(s, now, { type: "skip-instance", instanceId: "" }, "Skip instance"));
  for (const id of skippable) actions.push(tryAction(s, now, { type: "skip-instance", instanceId: id }, `Skip ${id}`, id));
  return actions;
}

export function derivePhase(s: RolloutState, now: number): DerivedView {
  const all = listInstances(s);
  return {
    phase: s.phase,
    message: deriveMessage(s, now, all),
    progress: deriveProgress(s, all),
    nextActions: deriveActions(s, now),
    capacity: { inService: inServiceCount(s), minHealthy: s.plan.minHealthy },
  };
}

/**
 * Time left, from measured step durations: the mean duration of each step so far (per batch, the
 * slowest instance), times the steps still to run, plus bake time in auto mode. Approval waits are not
 * counted. Null until at least one step has been measured, and once the rollout has ended.
 * Example: 3 batches, each step measured at 2 s, batch 2 just finished drain: 6 steps × 2 s + 8 × 2 s = 28 s.
 */
export function estimateRemainingMs(s: RolloutState, now: number): number | null {
  if (s.endedAt !== null || s.phase === "planned" || s.phase === "aborted") return null;
  const STEPS = runSteps(s, s.cursor.run === "return" ? "forward" : s.cursor.run);
  const sum: Partial<Record<StepName, { total: number; count: number }>> = {};
  for (const inst of listInstances(s)) {
    for (const rec of [inst.forward?.steps, inst.steps]) {
      if (!rec) continue;
      for (const step of STEPS) {
        const r = rec[step];
        const from = r.startedAt ?? r.issuedAt;
        if (r.status !== "done" || from === null || r.endedAt === null || r.attempts === 0) continue;
        const agg = (sum[step] ??= { total: 0, count: 0 });
        agg.total += r.endedAt - from;
        agg.count++;
      }
    }
  }
  const mean = (step: StepName): number | null => {
    const a = sum[step];
    return a && a.count > 0 ? a.total / a.count : null;
  };
  if (STEPS.every((st) => mean(st) === null)) return null;
  const known = STEPS.map(mean).filter((m): m is number => m !== null);
  const fallback = known.reduce((x, y) => x + y, 0) / known.length;
  const perStep = (step: StepName) => mean(step) ?? fallback;
  const perBatch = STEPS.reduce((t, st) => t + perStep(st), 0);
  const bake = s.mode.kind === "auto" ? s.mode.bakeMs : 0;
  const c = s.cursor;
  const total = s.direction === "rollback" ? s.rollbackBatches.length : s.batches.length;
  let remaining = 0;
  if (c.stage === "analysis") {
    const a = s.outstanding.find((e) => e.type === "analyze");
    remaining += a?.type === "analyze" ? a.windowMs : 0;
    if (s.direction === "forward" && c.batch < total - 1) remaining += bake;
  } else if (c.stage === "gate") {
    remaining += s.phase === "baking" && s.bakeUntil !== null ? Math.max(0, s.bakeUntil - now) : c.status === "settled" ? 0 : bake;
  } else {
    const i = STEPS.indexOf(c.stage);
    for (let k = i; k < STEPS.length; k++) {
      const step = STEPS[k] as StepName;
      if (k === i && c.status === "active") {
        const started = batchIds(s)
          .map((id) => getInstance(s, id)?.steps[step])
          .reduce<number | null>((m, r) => (r?.issuedAt != null ? Math.min(m ?? r.issuedAt, r.startedAt ?? r.issuedAt) : m), null);
        remaining += Math.max(0, perStep(step) - (started === null ? 0 : now - started));
      } else if (k > i || c.status !== "settled") remaining += perStep(step);
    }
    if (s.direction === "forward" && c.batch < total - 1) remaining += bake;
  }
  const batchesAfter = Math.max(0, total - c.batch - 1);
  remaining += batchesAfter * perBatch + (s.direction === "forward" ? Math.max(0, batchesAfter - 1) * bake : 0);
  return Math.round(remaining + analysisWindowsLeft(s));
}

/**
 * Batch analysis windows still ahead (forward only): the batch in progress unless its window has
 * begun, and every later batch — but the last, which has nothing old left to compare with, when no
 * alarm is named (it is skipped).
 */
function analysisWindowsLeft(s: RolloutState): number {
  const a = s.analysis;
  if (!a || a.windowMs <= 0 || s.direction !== "forward") return 0;
  const c = s.cursor;
  const current = c.batch >= 0 && c.stage !== "gate" && c.stage !== "analysis" ? 1 : 0;
  let windows = current + Math.max(0, s.batches.length - c.batch - 1);
  if (a.alarms.length === 0 && windows > 0) windows--;
  return windows * a.windowMs;
}
