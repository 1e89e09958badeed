/**
 * The shape of a rollout's state, as the state machine keeps it. Plain JSON (objects, arrays, numbers,
 * strings, booleans, null): the engine can store it, the API can send it, and `replay` rebuilds it.
 *
 * Each instance has its own record, kept in fixed-size chunks (`records[chunk][slot]`, located through
 * `locator`) so a transition copies one chunk and the chunk list instead of the whole fleet. The
 * instances of the batch in progress move in lockstep: while they do, what they share (the step
 * records, and the fields every step changes alike) is kept once in `lockstep`, not in each record,
 * so a step costs the same for a batch of 500 as for a batch of 5. An instance that parts from the
 * others (a failure, a skip, an observation of its own) leaves the lockstep with its record brought up
 * to date. Read instances through `getInstance` and `listInstances`, which put the two together; never
 * read the chunks yourself.
 */
import type { ApprovalMode, Effect, LbState, RolloutPhase, RolloutPlan, StepName } from "./types";

export type InstanceStatus = "pending" | "running" | "done" | "failed" | "skipped";
export type StepStatus = "pending" | "running" | "done" | "failed" | "skipped";

export interface StepRecord {
  status: StepStatus;
  /** When the machine issued the effect for this step (last attempt). */
  issuedAt: number | null;
  /** When the engine reported `step-started` (last attempt). */
  startedAt: number | null;
  endedAt: number | null;
  attempts: number;
  outputTail?: string;
  message?: string;
  /** Hook exit status, when the step ran a hook. */
  exitCode?: number | null;
}

export type StepRecords = Record<StepName, StepRecord>;

/** One pass of the per-instance procedure (forward to the target, or back to the previous version). */
export interface Procedure {
  status: InstanceStatus;
  /** The step in progress or last reached; null before the first. */
  step: StepName | null;
  steps: StepRecords;
}

export interface InstanceState extends Procedure {
  id: string;
  zone: string;
  fromVersion: string | null;
  targetVersion: string;
  /** 0-based forward batch. */
  batch: number;
  /** 0-based rollback batch, once a rollback is planned. */
  rollbackBatch: number | null;
  inServiceAtStart: boolean;
  /** The forward procedure, kept here when a rollback starts over with fresh steps. */
  forward: Procedure | null;
  /** The rollout issued at least one effect for this instance (rollback covers exactly these). */
  touched: boolean;
  /** Belief: registered with the load balancer (deregister only what is registered, register only what is not). */
  registered: boolean;
  /** Belief: serving traffic. Counts toward `inService` and the capacity guard. */
  inRotation: boolean;
  /**
   * Belief: the server runs and can take traffic: never stopped by this rollout, or verified since its
   * last stop. Abort returns exactly these to rotation.
   */
  healthy: boolean;
  /** Belief: the version it runs; null when unknown (e.g. after a failed deploy). */
  version: string | null;
  /** Last state the load balancer reported (health-observed); null until one arrives. */
  lbState: LbState | null;
  /** Last in-flight count reported while draining (drain-observed). */
  inFlight: number | null;
}

export interface BatchState {
  index: number;
  canary: boolean;
  instanceIds: string[];
  status: "pending" | "running" | "done";
  startedAt: number | null;
  endedAt: number | null;
  approvedBy: string | null;
  approvedAt: number | null;
}

export interface RollbackBatchState {
  index: number;
  /** Every instance of the batch goes back to this version. */
  fromVersion: string;
  instanceIds: string[];
  status: "pending" | "running" | "done";
  startedAt: number | null;
  endedAt: number | null;
}

/** forward: a planned batch; rollback: a rollback batch; return: abort putting healthy instances back. */
export type RunKind = "forward" | "rollback" | "return";
export type Stage = StepName | "gate";

/**
 * Where the rollout stands. `todo`: the stage's effect is not issued yet (waiting for resume, or just
 * reached); `active`: its effect is outstanding; `failed`: it failed and waits for the operator;
 * `settled`: it finished for every active instance of the batch.
 */
export interface Cursor {
  run: RunKind;
  batch: number;
  stage: Stage;
  status: "todo" | "active" | "failed" | "settled";
}

export interface Failure {
  kind: "step-failed" | "timeout" | "capacity";
  run: RunKind;
  batch: number;
  step: StepName;
  /** The instances the failure holds up (retry re-runs the step for exactly these). */
  ids: string[];
  message: string;
  at: number;
}

/** Adding a field? Copy it in draft-support.ts's copyState too (the compiler insists, for a required one). */
export interface RolloutState {
  id: string;
  lb: string;
  createdAt: number;
  createdBy: string;
  mode: ApprovalMode;
  drainTimeoutMs: number;
  inServiceTimeoutMs: number;
  hookTimeoutMs: number;
  plan: RolloutPlan;
  phase: RolloutPhase;
  direction: "forward" | "rollback";
  startedAt: number | null;
  endedAt: number | null;
  /** Time of the last accepted event. */
  updatedAt: number;
  /** 0-based index of the batch in progress within `direction`'s batches; -1 before the start. */
  currentBatch: number;
  cursor: Cursor;
  batches: BatchState[];
  rollbackBatches: RollbackBatchState[];
  /** Each instance's own record, in chunks; for a member of `lockstep` it lacks what the lockstep holds. */
  records: InstanceState[][];
  /** Instance id → position (chunk × CHUNK + slot). Built once, never changes. */
  locator: Record<string, number>;
  /** The instances moving in lockstep and what they share; null when none do. */
  lockstep: Lockstep | null;
  /** How many instances the machine believes are in service now. */
  inService: number;
  /** Effects issued and not yet resolved; after a crash the engine performs these again. */
  outstanding: Effect[];
  /** How many effects were issued per key ("f2:deploy"), for unique effect ids. */
  effectCounts: Record<string, number>;
  pauseRequested: boolean;
  abortRequested: boolean;
  rollbackRequested: boolean;
  /** Bake time left when a bake was paused. */
  bakeRemainingMs: number | null;
  /** When the current bake ends (auto mode). */
  bakeUntil: number | null;
  failure: Failure | null;
  /** Abort: the instances being put back into rotation. */
  returning: string[];
  /** Touched instances left out of rotation when the rollout ended (abort, skip, failure). */
  leftOut: string[];
  /** Notable things the operator should know, newest last ("i-3 skipped: it stays out of rotation"). */
  notes: string[];
  /** Who asked for the ending (abort / rollback), for the message. */
  endedBy: string | null;
}

/** The fields a lockstep can hold for its members: those the steps change. */
export type LockstepFields = Partial<Pick<InstanceState, "status" | "step" | "touched" | "healthy" | "registered" | "inRotation" | "version" | "lbState" | "inFlight">>;

/**
 * Instances of the run in progress that move together: each member is its own record with `fields`
 * laid over it and `steps` as its step records. Members join with equal step records, so one shared
 * set serves them all. Example: batch [i-3 i-4] after deregister succeeded → ids [i-3, i-4], fields
 * { status: "running", step: "drain", touched: true, registered: false, inRotation: false },
 * steps.deregister done, steps.drain running.
 */
export interface Lockstep {
  /** The run and batch the members belong to (the cursor's; the lockstep ends when the cursor moves on). */
  run: RunKind;
  batch: number;
  /** The members, active instances of that batch, in batch order. */
  ids: string[];
  /** What every member has now over its own record (only fields changed since they joined). */
  fields: LockstepFields;
  /** Every member's step records. */
  steps: StepRecords;
}

export { CHUNK, getInstance, listInstances } from "./records";
