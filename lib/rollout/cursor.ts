/**
 * The cursor's vocabulary: the steps of each run, which instances a run acts on, the version it
 * deploys, the phase while its effects are outstanding, and how a rollout ends. Shared by runs.ts
 * (moving forward) and endings.ts (abort and rollback).
 *
 * Functions that take a state and return nothing change it: they run inside the machine's immer
 * `produce`, on a draft (machine.ts).
 */
import { listInstances, type Cursor, type InstanceState, type RolloutState, type RunKind, type StepRecords, getInstance } from "./state";
import { ALL_STEPS, REPLACE_STEPS, STEPS, type RolloutPhase, type StepName } from "./types";

/** Abort's return run: start and verify the instances stopped with their code unchanged, then put every one back. */
export const RETURN_STEPS: readonly StepName[] = ["start", "verify", "register", "wait-in-service"];
/** Replace: put back what was taken out and not terminated, then point the group back at its launch version and size. */
export const REPLACE_RETURN_STEPS: readonly StepName[] = ["register", "wait-in-service", "launch"];
/** Replace rollback: the forward run's leftovers back in first (rollback batch 1 only), then replace the new instances. */
export const REPLACE_ROLLBACK_STEPS: readonly StepName[] = ["register", "wait-in-service", ...REPLACE_STEPS];
/** Steps that act on the Auto Scaling group: issued even when no instance of the batch needs them. */
export const GROUP_STEPS: ReadonlySet<StepName> = new Set(["launch", "replace"]);

export function isReplace(s: RolloutState): boolean {
  return s.plan.strategy === "replace" && s.plan.replace !== undefined;
}

export function runSteps(s: RolloutState, run: RunKind): readonly StepName[] {
  if (isReplace(s)) return run === "return" ? REPLACE_RETURN_STEPS : run === "rollback" ? REPLACE_ROLLBACK_STEPS : REPLACE_STEPS;
  return run === "return" ? RETURN_STEPS : STEPS;
}

/** The steps a forward batch goes through, as the UI lists them. */
export function forwardSteps(s: RolloutState): readonly StepName[] {
  return runSteps(s, "forward");
}

/** Pending records for every step (a new object each time: drafts change them in place). */
export function freshSteps(): StepRecords {
  const out = {} as StepRecords;
  for (const step of ALL_STEPS) out[step] = { status: "pending", issuedAt: null, startedAt: null, endedAt: null, attempts: 0 };
  return out;
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

/** Replace: the instances the group launched in the run's batch. */
export function newIds(s: RolloutState, run: RunKind, batch: number): string[] {
  if (run === "forward") return s.batches[batch]?.newIds ?? [];
  if (run === "rollback") return s.rollbackBatches[batch]?.newIds ?? [];
  return [];
}

/**
 * The instances a step acts on in the run's batch. In-place: the batch's active instances. Replace:
 * verify acts on the new instances; register and wait-in-service on what is put back (abort's
 * returning, rollback's leftovers); the rest on the batch's old instances.
 */
export function stepIds(s: RolloutState, run: RunKind, batch: number, step: StepName): string[] {
  if (!isReplace(s)) return activeIds(s, run, batch);
  if (step === "verify") return newIds(s, run, batch).filter((id) => getInstance(s, id)?.status !== "skipped");
  if (step === "register" || step === "wait-in-service") {
    if (run === "return") return activeIds(s, run, batch);
    if (run === "rollback") return s.rollbackBatches[batch]?.returnIds ?? [];
    return [];
  }
  return activeIds(s, run, batch);
}

/** Replace: instances of the group the rollout believes alive (not terminated): the group's size as the machine sees it. */
export function aliveCount(s: RolloutState): number {
  let n = 0;
  for (const i of s.instances) if (i.server !== "terminated") n++;
  return n;
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

/** Replace: the launch version the run points the group at (forward: the new one; rollback and abort: the old one). */
export function launchVersionFor(s: RolloutState, run: RunKind): string {
  const r = s.plan.replace;
  if (!r) throw new Error(`rollout ${s.id} has no replace plan`);
  return run === "forward" ? r.toLaunch : r.fromLaunch;
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

/** Left out when the rollout ended: taken out by the rollout and not back in service (terminated ones are gone, not left out). */
function leftOut(inst: InstanceState): boolean {
  return inst.server !== "terminated" && inst.touched && !inst.inRotation && (!inst.registered || inst.status === "failed" || inst.status === "skipped");
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
  s.cursor = { run, batch, stage: runSteps(s, run)[0] ?? "deregister", status: "todo" };
  s.currentBatch = batch;
  s.effectCounts = {};
}

function effectPrefix(s: RolloutState): string {
  const c = s.cursor;
  if (c.run === "return") return `a${s.direction === "forward" ? "f" : "r"}${c.batch}`;
  return `${c.run === "forward" ? "f" : "r"}${c.batch}`;
}

/** A unique effect id for the cursor's run and batch: `f3:deploy#2` (changes the attempt count). */
export function nextEffectId(s: RolloutState, name: string): string {
  const key = `${effectPrefix(s)}:${name}`;
  const n = (s.effectCounts[key] ?? 0) + 1;
  s.effectCounts[key] = n;
  return `${key}#${n}`;
}

/** For exhaustive switches: a new case added to a union fails to compile here. */
export function assertNever(x: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
