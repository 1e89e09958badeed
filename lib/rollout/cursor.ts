/**
 * The cursor's vocabulary: the steps of each run, which instances a run acts on, the version it
 * deploys, the phase while its effect is outstanding, and how a rollout ends. Shared by runs.ts
 * (moving forward) and endings.ts (abort and rollback).
 */
import { type Draft, assertNever } from "./draft";
import { instanceField } from "./records";
import { listInstances, type Cursor, type InstanceState, type RolloutState, type RunKind, type StepRecords } from "./state";
import { STEPS, type RolloutPhase, type StepName } from "./types";

export const RETURN_STEPS: readonly StepName[] = ["register", "wait-in-service"];

export function runSteps(run: RunKind): readonly StepName[] {
  return run === "return" ? RETURN_STEPS : STEPS;
}

const PENDING_STEP = { status: "pending", issuedAt: null, startedAt: null, endedAt: null, attempts: 0 } as const;

/** Eight pending step records. Shared objects are safe: states are never mutated. */
export const FRESH_STEPS: StepRecords = {
  deregister: PENDING_STEP,
  drain: PENDING_STEP,
  stop: PENDING_STEP,
  deploy: PENDING_STEP,
  start: PENDING_STEP,
  verify: PENDING_STEP,
  register: PENDING_STEP,
  "wait-in-service": PENDING_STEP,
};

/** Every instance of the run's batch, skipped ones included. */
export function runBatchIds(s: RolloutState, run: RunKind, batch: number): string[] {
  switch (run) {
    case "forward":
      return s.batches[batch]?.instanceIds ?? [];
    case "rollback":
      return s.rollbackBatches[batch]?.instanceIds ?? [];
    case "return":
      return s.returning;
    default:
      return assertNever(run, "run");
  }
}

export function activeIds(s: RolloutState, run: RunKind, batch: number): string[] {
  const all = runBatchIds(s, run, batch);
  // Members are active instances of the lockstep's batch: when every instance of it is one, that's all of them.
  const ls = s.lockstep;
  if (ls !== null && ls.run === run && ls.batch === batch && ls.ids.length === all.length) return ls.ids;
  return all.filter((id) => instanceField(s, id, "status") !== "skipped");
}

/** The version the run deploys and verifies. */
export function runVersion(s: RolloutState, run: RunKind, batch: number): string {
  if (run === "rollback") return s.rollbackBatches[batch]?.fromVersion ?? s.plan.targetVersion;
  return s.plan.targetVersion;
}

/** The phase while the cursor's effect is outstanding. */
export function activePhase(s: RolloutState): RolloutPhase {
  if (s.abortRequested) return "aborting";
  if (s.rollbackRequested) return "rolling-back";
  switch (s.cursor.run) {
    case "forward":
      return "running";
    case "rollback":
      return "rolling-back";
    case "return":
      return "aborting";
    default:
      return assertNever(s.cursor.run, "run");
  }
}

export const ENDED: ReadonlySet<RolloutPhase> = new Set(["succeeded", "aborted", "rolled-back"]);

/** Left out when the rollout ended: taken out by the rollout and not back in service. */
function leftOut(inst: InstanceState): boolean {
  return inst.touched && !inst.inRotation && (!inst.registered || inst.status === "failed" || inst.status === "skipped");
}

/** End the rollout in a terminal (or resting) phase. */
export function finish(d: Draft, phase: "succeeded" | "rolled-back" | "aborted", at: number): void {
  const s = d.s;
  s.phase = phase;
  s.endedAt = at;
  s.outstanding = [];
  s.pauseRequested = false;
  s.abortRequested = false;
  s.rollbackRequested = false;
  s.bakeUntil = null;
  s.bakeRemainingMs = null;
  s.failure = null;
  s.leftOut = listInstances(s)
    .filter(leftOut)
    .map((i) => i.id);
  d.flush();
}

/** The cursor with another status (and stage): built field by field, it is made on most events. */
export function cursorAt(c: Cursor, status: Cursor["status"], stage: Cursor["stage"] = c.stage): Cursor {
  return { run: c.run, batch: c.batch, stage, status };
}

export function moveToBatch(d: Draft, run: RunKind, batch: number): void {
  d.flush();
  d.s.cursor = { run, batch, stage: "deregister", status: "todo" };
  d.s.currentBatch = batch;
  d.s.effectCounts = {};
}

