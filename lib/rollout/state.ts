/**
 * The shape of a rollout's state, as the state machine keeps it. Plain JSON (objects, arrays, numbers,
 * strings, booleans, null): the engine can store it, the API can send it, and `replay` rebuilds it.
 *
 * Every instance has one record in `instances`, in plan order, found by id through `positions`.
 * States are immutable: the machine makes each new state with immer (machine.ts), so an unchanged
 * instance record is the very same object in the old and the new state. (An array, not a record keyed
 * by id: copying a 5,000-key object on every event made a transition cost milliseconds.)
 */
import type { AnalysisSettings, ApprovalMode, BatchAnalysis, Effect, LbState, RolloutPhase, RolloutPlan, StepName } from "./types";

export type InstanceStatus = "pending" | "running" | "done" | "failed" | "skipped";

/**
 * `done`: finished well (or had nothing to do: `message` says why, e.g. "already out of rotation").
 * `failed`: the step reported a failure. `timed-out`: it did not finish within its time limit.
 */
export type StepStatus = "pending" | "running" | "done" | "failed" | "timed-out" | "skipped";

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

/**
 * What the machine believes about the web server on an instance:
 * - `serving`: running the version in `version` and able to take traffic (never stopped by this
 *   rollout, or verified since it was last stopped);
 * - `stopped`: stopped by the stop hook, its code still `version` (so it can be started again as it was);
 * - `unknown`: a hook changed something and then failed (or is running): nobody can say what runs there.
 * - `terminated`: the replace strategy terminated the instance in its Auto Scaling group; it is gone.
 */
export type ServerBelief = "serving" | "stopped" | "unknown" | "terminated";

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
  /** Belief: serving traffic. Counts toward the capacity guard; change it with `setInRotation`. */
  inRotation: boolean;
  server: ServerBelief;
  /** Belief: the version it runs; null when unknown (e.g. after a deploy that failed half-way). */
  version: string | null;
  /** Last state the load balancer reported (health-observed); null until one arrives. */
  lbState: LbState | null;
  /** Last in-flight count reported while draining (drain-observed). */
  inFlight: number | null;
  /** Replace strategy: the group launched it during this rollout (absent: it was in the plan). */
  launched?: { at: number; launchVersion: string };
  /** Launched instances: the other load balancers it serves (planned instances: see the plan). */
  alsoIn?: string[];
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
  /** Replace strategy: the instances the group launched in this batch, in order of arrival. */
  newIds?: string[];
  /** The batch's analysis, once judged (the last one when it was judged again). */
  analysis?: BatchAnalysis;
}

export interface RollbackBatchState {
  index: number;
  /** Every instance of the batch goes back to this version. */
  fromVersion: string;
  instanceIds: string[];
  /** Replace strategy: instances launched in this batch (from the previous launch version). */
  newIds?: string[];
  /** Replace strategy: instances the forward run took out and never terminated, put back first. */
  returnIds?: string[];
  status: "pending" | "running" | "done";
  startedAt: number | null;
  endedAt: number | null;
}

/** forward: a planned batch; rollback: a rollback batch; return: abort putting instances back. */
export type RunKind = "forward" | "rollback" | "return";
/** `analysis`: a forward batch back in service, watched and judged before its gate (see analysis-stage.ts). */
export type Stage = StepName | "gate" | "analysis";

/**
 * Where the rollout stands. `todo`: the stage's effects are not issued yet (waiting for resume, or just
 * reached); `active`: its effects are outstanding; `failed`: it failed and waits for the operator;
 * `settled`: it finished for every active instance of the batch.
 *
 * The gate before forward batch b+1 is `{ run: "forward", batch: b, stage: "gate" }`; a gate before the
 * very first batch (`approveFirstBatch`) has batch -1.
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

export interface RolloutState {
  id: string;
  lb: string;
  createdAt: number;
  createdBy: string;
  mode: ApprovalMode;
  /** A second person must approve before batch 1 starts (the two-person rule with auto approval or one batch). */
  approveFirstBatch: boolean;
  drainTimeoutMs: number;
  inServiceTimeoutMs: number;
  /** Replace: how long a group step may wait for new instances. */
  groupTimeoutMs?: number;
  /** Batch analysis after each forward batch; absent: off. */
  analysis?: AnalysisSettings;
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
  /** Every instance's record, in plan order. Read one with `getInstance(state, id)`. */
  instances: InstanceState[];
  /** Instance id → its index in `instances`. Set at creation; the replace strategy appends the instances the group launches. */
  positions: Record<string, number>;
  /**
   * How many instances are believed in rotation, kept with every change of `inRotation`
   * (setInRotation): the capacity guard asks on most events, and counting 5,000 records through an
   * immer draft each time made a transition cost milliseconds. The property tests check it.
   */
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

const FINAL_PHASES: ReadonlySet<RolloutPhase> = new Set(["succeeded", "aborted", "rolled-back"]);

/** Succeeded, aborted or rolled back: nothing more happens to the rollout. The one definition. */
export function isFinal(phase: RolloutPhase): boolean {
  return FINAL_PHASES.has(phase);
}

export function getInstance(state: RolloutState, id: string): InstanceState | undefined {
  const pos = Object.hasOwn(state.positions, id) ? state.positions[id] : undefined;
  return pos === undefined ? undefined : state.instances[pos];
}

/** Every instance in plan order. */
export function listInstances(state: RolloutState): readonly InstanceState[] {
  return state.instances;
}

/** How many instances the machine believes are in service now (what its capacity guard counts). */
export function inServiceCount(state: RolloutState): number {
  return state.inService;
}

/** Change an instance's in-rotation belief, keeping the count in step. */
export function setInRotation(s: RolloutState, inst: InstanceState, value: boolean): void {
  if (inst.inRotation === value) return;
  inst.inRotation = value;
  s.inService += value ? 1 : -1;
}
