/**
 * What the dashboard reads: the shapes the server's read models return and `/api/*` serves, as the
 * browser sees them. Types only. Times are epoch milliseconds.
 */
import type { InstanceView, LoadBalancerSummary, TrafficStats } from "./fleet";
import type { DerivedView } from "./rollout/derive";
import type { InstanceStatus, RolloutState } from "./rollout/state";
import type { AnalysisSettings, ApprovalMode, BatchAnalysis, LbState, OperatorEventType, RolloutPhase, StepName } from "./rollout/types";

export type { InstanceView, LoadBalancerSummary } from "./fleet";

/**
 * applied: fed to the state machine, in `seq` order; the rollout's state is the replay of these.
 * rejected: refused by the state machine (`reason` says why); kept as an audit fact, never replayed.
 * info: an engine fact that is not a state-machine event (a retry, a crash found, a resume).
 */
export type EventOutcome = "applied" | "rejected" | "info";

/** Engine facts recorded with outcome `info`. */
export type InfoEventType =
  /** An engine process took charge of the rollout. */
  | "engine-started"
  /** The engine stopped cleanly (dashboard shut down). */
  | "engine-stopped"
  /** At start-up: the previous engine ended without stopping cleanly (crash, SIGKILL). */
  | "engine-crash-detected"
  /** At start-up: what was in progress, what the provider reported, and what the engine does next. */
  | "engine-resumed"
  /** An engine's write was refused: its lease had expired or passed to another engine; it stopped driving. */
  | "engine-fenced-out"
  /** A transient provider error (throttled, unavailable, timeout) and the retry that follows. */
  | "step-retry"
  /** The traffic error count rose during a batch in auto mode; the engine paused the rollout. */
  | "auto-paused"
  /** Progress of a wait (drain, in-service) worth showing: the provider's words, in-flight counts. */
  | "wait-progress"
  /** The engine saw the rollout end; details carry the traffic counters at that moment. */
  | "rollout-finished"
  /** A hook command was sent (payload: effectId, hook, commandId, ids), recorded before waiting on it. */
  | "hook-sent"
  /** Replace: Rotor changed the Auto Scaling group (launch version, desired capacity, a termination). */
  | "group-changed"
  /** Replace: a scaling activity of the group seen during the rollout (its own, or one Rotor caused). */
  | "group-activity";

export interface StoredEvent {
  /** Global, increasing: the order events happened in. */
  seq: number;
  rolloutId: string;
  at: number;
  /** "engine" or the operator's name. */
  actor: string;
  /** An OperatorEvent/EngineEvent type, or an InfoEventType. */
  type: string;
  /** The event itself (without at/actor). */
  payload: Record<string, unknown>;
  outcome: EventOutcome;
  /** Why a rejected event was refused. */
  reason: string | null;
  /** Output tails, durations, the effect a step-started refers to, … */
  details: Record<string, unknown> | null;
}

/** One row of the history table. */
export interface RolloutSummary {
  id: string;
  lb: string;
  provider: string;
  createdBy: string;
  createdAt: number;
  targetVersion: string;
  /** Versions the fleet ran when the rollout started, with counts: {"v1": 4, "unknown": 1}. */
  fromVersions: Record<string, number>;
  phase: RolloutPhase;
  /** Not yet in a final phase (succeeded, aborted, rolled-back). */
  active: boolean;
  finishedAt: number | null;
  /** finishedAt (or now, while active) minus createdAt. */
  durationMs: number;
  /** The last abort or rollback an operator asked for, if any: who decided the outcome. */
  decidedBy: { type: OperatorEventType; actor: string; at: number } | null;
}

export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "timed-out" | "skipped";

export interface StepView {
  name: StepName;
  status: StepStatus;
  /** When the engine started the step (or the machine issued it, before the engine reported). */
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  exitCode?: number | null;
  outputTail?: string;
  message?: string;
  /** How many times the step was issued (retries after a failure). */
  attempts: number;
}

export interface InstanceProgress {
  id: string;
  zone: string;
  fromVersion: string | null;
  /**
   * The steps this instance goes through, in order. In place: all eight. Replace: an old instance the
   * group's steps up to its replacement, a new one only verify, one put back register and wait in service.
   */
  steps: StepView[];
  /** Replace: old (in the plan, replaced), new (launched by the group in this batch), or returned (taken out, put back). */
  role?: "old" | "new" | "returned";
  /** Replace: the instance was terminated in its group; it is gone. */
  terminated?: boolean;
  /** Replace: the launch version the group launched it from. */
  launchedFrom?: string;
  /** The operator skipped this instance. */
  skipped: boolean;
  /** Where the instance stands in this batch's run (lib's InstanceStatus). */
  status: InstanceStatus;
}

export interface BatchView {
  index: number;
  canary: boolean;
  /** In service while this batch is out of rotation, as planned (rollback batches: the plan's minimum). */
  inServiceDuring: number;
  /** forward: the rollout to the target version; rollback: back to `version`. */
  direction: "forward" | "rollback";
  /** The version this batch deploys. */
  version: string;
  status: "pending" | "running" | "done";
  /** The step columns of this batch, in order (in place: the eight steps; replace: launch … verify). */
  steps: StepName[];
  instances: InstanceProgress[];
  startedAt: number | null;
  finishedAt: number | null;
  approvedBy: string | null;
  /** Forward batches with analysis on: the verdict once judged, with its figures and what Rotor did. */
  analysis?: BatchAnalysis;
  /** While its analysis window runs: what it compares and watches. */
  analysing?: { windowMs: number; fresh: string[]; old: string[]; alarms: string[] };
}

/** Measured step durations, for the time-left estimate. */
export interface StepTiming {
  name: StepName;
  /** Mean duration of finished runs of this step, per batch. */
  meanMs: number;
  samples: number;
}

export interface CapacityView {
  /** Instances in service now, as the monitor last saw them (null when unknown). */
  inService: number | null;
  /** In service now as the state machine believes it (what its capacity guard counts). */
  believedInService?: number;
  minHealthy: number;
  fleetSize: number;
}

export interface TrafficView {
  /** Counters since the rollout started (now, or at its end, minus the counters at its start), when the provider counts traffic. */
  requests: number;
  ok: number;
  failed: number;
  failuresByKind: Record<string, number>;
  at: number;
}

export interface RolloutDetail {
  summary: RolloutSummary;
  state: RolloutState;
  /** Phase, message, progress, next actions and capacity, from lib's derivePhase. */
  view: DerivedView;
  /** Estimated time left in ms (null when it cannot be estimated). */
  remainingMs: number | null;
  /** The forward batches, then (once a rollback was planned) the rollback batches. */
  batches: BatchView[];
  capacity: CapacityView;
  /** Null when the provider does not count traffic. */
  traffic: TrafficView | null;
  /** The timeline, oldest first. */
  events: StoredEvent[];
  /** The monitor's last failed refresh of this load balancer, if the last one failed. */
  monitorError: { message: string; code: string; at: number } | null;
  /** Server time of this answer (for elapsed times and the bake countdown). */
  now: number;
}

/** The replace strategy on the rollout page: the group, its desired capacity now and the launch versions. */
export interface ReplaceSummaryView {
  group: string;
  min: number;
  max: number;
  /** Desired capacity when the rollout started (every batch ends back at it). */
  desiredAtStart: number;
  /** Desired capacity as the rollout last set it (from its group-changed events). */
  desired: number;
  surge: number;
  fromLaunch: string;
  toLaunch: string;
  fromLabel?: string;
  toLabel?: string;
  /** The launch version the rollout last pointed the group at (fromLaunch until it does). */
  launchNow: string;
  notes: string[];
}

/** A load balancer's traffic counters since the fleet started (or was reset). */
export type LbTrafficView = TrafficStats & { lb: string };

export interface ActiveRolloutRef {
  id: string;
  phase: RolloutPhase;
  message: string;
  targetVersion: string;
  progress: number;
}

/** Why the provider (or one load balancer) cannot be read, as one sentence: what is wrong, which setting, what to do. */
export interface ProblemView {
  /** CONFIG, AUTH, UNAVAILABLE, THROTTLED, TIMEOUT or INTERNAL (lib/result.ts gives their HTTP statuses). */
  code: string;
  message: string;
}

export interface LoadBalancerRow extends LoadBalancerSummary {
  counts: Partial<Record<LbState, number>>;
  total: number;
  versions: { version: string | null; count: number }[];
  activeRollout: ActiveRolloutRef | null;
  traffic: LbTrafficView | null;
  error?: string;
}

/** Where a rollout has an instance: the step in progress (or failed), the next step between steps, or done. */
export interface InstanceRolloutStep {
  batch: number;
  step: StepName | "queued" | "done";
  status: StepStatus;
  direction: "forward" | "rollback";
}

export interface FleetRow extends InstanceView {
  /** Where the active rollout has this instance, if it is in one. */
  rollout?: InstanceRolloutStep;
}

export interface FleetView {
  lb: LoadBalancerSummary;
  at: number;
  instances: FleetRow[];
  activeRollout: ActiveRolloutRef | null;
  error?: string;
}

/**
 * A live-update message: what changed, and `at`, the server's time of the (first) change it
 * announces. A page rendered from a read that began before `at` may not show that change.
 * `hello` opens every stream, sent once the stream is subscribed: whatever changed before it
 * reaches the browser only by refetching.
 */
export type StreamMessage =
  | { kind: "hello" }
  | { kind: "rollout"; id: string; lb?: string; at: number }
  | { kind: "instances"; lb: string; at: number }
  | { kind: "traffic"; lb: string; at: number };


export type { NextAction as NextActionView } from "./rollout/derive";

/**
 * `GET /api/rollouts/{id}`: the engine's RolloutDetail (summary, derivePhase's view, batches with
 * per-instance steps, capacity, traffic since the start, events) without the raw machine state.
 */
export type RolloutDetailView = Omit<RolloutDetail, "state"> & {
  /** The replace strategy's group and launch versions; absent for in place. */
  replace?: ReplaceSummaryView;
  approval: ApprovalMode;
  drainTimeoutMs: number;
  /** What the operator should know, newest last: skips, an abort's returns and which instances stay out, and why. */
  notes: string[];
  /** Batch analysis settings; absent when analysis is off. */
  analysis?: AnalysisSettings;
};

/** An armed fault of the local fleet (fault injection for demos and tests). */
export interface FaultView {
  kind: string;
  instanceId: string;
  since: number;
  holdMs?: number;
  active?: boolean;
}

/** A deploy freeze in force on a load balancer, as pages show it. */
export interface FreezeView {
  lb: string;
  reason: string;
  endsAt: number;
  createdBy: string;
  createdAt: number;
}
