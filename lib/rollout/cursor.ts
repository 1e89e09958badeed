/**
 * The cursor's vocabulary: the steps of each run, which instances a run acts on, the version it
 * deploys, the phase while its effects are outstanding, and how a rollout ends. Shared by runs.ts
 * (moving forward) and endings.ts (abort and rollback).
 *
 * Functions that take a state and return nothing change it: they run inside the machine's immer
 * `produce`, on a draft (machine.ts).
 */
import { listInstances, type Cursor, type InstanceState, type RolloutState, type RunKind, type StepRecords, getInstance } from "./state";
import { STEPS, type RolloutPhase, type StepName } from "./types";

/** Abort's return run: start and verify the instances stopped with their code unchanged, then put every one back. */
export const RETURN_STEPS: readonly StepName[] = ["start", "verify", "register", "wait-in-service"];

export function runSteps(run: RunKind): readonly StepName[] {
  return run === "return" ? RETURN_STEPS : STEPS;
}

/** Eight pending step records (a new object each time: drafts change them in place). */
export function freshSteps(): StepRecords {
  const pending = () => ({ status: "pending" as const, issuedAt: null, startedAt: null, endedAt: null, attempts: 0 });
  return {
    deregister: pending(),
    drain: pending(),
    stop: pending(),
    deploy: pending(),
    start: pending(),
    verify: pending(),
    register: pending(),
    "wait-in-service": pending(),
  };
}

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

/** The run batch's instances that still take part (not skipped). */
export function activeIds(s: RolloutState, run: RunKind, batch: number): string[] {
  return runBatchIds(s, run, batch).filter((id) => getInstance(s, id)?.status !== "skipped");
}

/** The version an instance is deployed and verified at in this run. */
export function versionFor(s: RolloutState, run: RunKind, batch: number, inst: InstanceState): string {
  switch (run) {
    case "forward":
      return s.plan.targetVersion;
    case "rollback":
      return s.rollbackBatches[batch]?.fromVersion ?? s.plan.targetVersion;
    case "return":
      // Abort restarts an instance as it was: its code never changed (otherwise it is not returned).
      return inst.version ?? s.plan.targetVersion;
    default:
      return assertNever(run, "run");
  }
}

/** The phase while the cursor's effects are outstanding. */
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

/** Left out when the rollout ended: taken out by the rollout and not back in service. */
function leftOut(inst: InstanceState): boolean {
  return inst.touched && !inst.inRotation && (!inst.registered || inst.status === "failed" || inst.status === "skipped");
}

/** End the rollout in a final phase. */
export function finish(s: RolloutState, phase: "succeeded" | "rolled-back" | "aborted", at: number): void {
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
}

export function setCursor(s: RolloutState, status: Cursor["status"], stage: Cursor["stage"] = s.cursor.stage): void {
  s.cursor = { run: s.cursor.run, batch: s.cursor.batch, stage, status };
}

export function moveToBatch(s: RolloutState, run: RunKind, batch: number): void {
  s.cursor = { run, batch, stage: runSteps(run)[0] ?? "deregister", status: "todo" };
  s.currentBatch = batch;
  s.effectCounts = {};
}

/** For exhaustive switches: a new case added to a union fails to compile here. */
export function assertNever(x: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
