import type { AlarmState, AnalysisResult, AnalysisThresholds, LbWindowMetrics } from "../analysis";

/**
 * The vocabulary of a rollout, shared by the planner, the state machine, the engine and the UI.
 * Pure types: no I/O. Times are epoch milliseconds passed in by the caller, never read here.
 */

/** Where an instance stands with its load balancer, as every provider reports it. */
export type LbState = "in-service" | "out-of-service" | "draining" | "registering" | "unknown";

/** An instance as the planner sees it at the start of a rollout. */
export interface FleetInstance {
  id: string;
  zone: string;
  state: LbState;
  /** The version it runs now; null when the provider cannot tell. */
  version: string | null;
  name?: string;
  /** Other load balancers this instance is registered in (Rotor names); the rollout covers them all. */
  alsoIn?: string[];
  /** Where `version` came from (tag, version hook, the instance's own answer). */
  versionSource?: "tag" | "hook" | "instance";
}

/** A size given either as a count of instances or as a percent of the fleet. */
export type Quantity = { unit: "count"; value: number } | { unit: "percent"; value: number };

export interface PlanOptions {
  /** Target version; must match VERSION_PATTERN. */
  version: string;
  batchSize: Quantity;
  /**
   * Instances that must stay in service at every moment. Default: max(1, fleet size minus batch size).
   * Only the count 0, given explicitly, allows a batch to take every instance out; a percent never
   * resolves below 1.
   */
  minHealthy?: Quantity;
  /** Start with a batch of exactly one instance. */
  canary?: boolean;
  /** An explicit order chosen by the operator: every instance id of the fleet, once. Default: spread across zones. */
  order?: readonly string[];
  /** Allow instances that are not in service at the start (they are updated like the others). */
  includeOutOfService?: boolean;
}

/**
 * Allow-pattern for versions: a letter or digit, then letters, digits and `._+-`, 1 to 128 characters in all.
 * The first character keeps `.`, `..` (folder names) and `-rf`, `--force` (command options) out.
 * lib/validation/version.ts builds the form's schema and the hook scripts' shell check from it.
 */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export interface PlannedInstance {
  id: string;
  zone: string;
  /** The version to return to on rollback (null when unknown). */
  fromVersion: string | null;
  inServiceAtStart: boolean;
  /** Other load balancers it was registered in at the start: deregistered from and registered back to with the rollout's own. */
  alsoIn?: string[];
  /** Where fromVersion came from. */
  versionSource?: "tag" | "hook" | "instance";
}

export interface PlannedBatch {
  /** 0-based position in the plan. Batch 0 is the canary when `canary` is set. */
  index: number;
  instanceIds: string[];
  /** Zones of the batch's instances, in the same order as instanceIds. */
  zones: string[];
  canary: boolean;
  /** How many instances stay in service while this batch is out of rotation. */
  inServiceDuring: number;
}

/**
 * The `replace` strategy's part of a plan: the Auto Scaling group new instances come from, its
 * capacity when the plan was made, and the launch versions from → to (see replace-check.ts).
 */
export interface ReplacePlan {
  group: string;
  min: number;
  /** Desired capacity at the start: every batch ends with the group back at this size. */
  desired: number;
  max: number;
  /** The launch version the group started from (rollback and abort point it back here). */
  fromLaunch: string;
  /** The launch version new instances start from. */
  toLaunch: string;
  /** New instances launched before each batch is taken out (0: none; at most the batch size). */
  surge: number;
  /** Human-readable: where each launch version comes from ("web-lt version 3 (ami-…)"). */
  fromLabel?: string;
  toLabel?: string;
  /** Shown in the plan, not refused: lifecycle hooks, unhealthy instances. */
  notes?: string[];
}

export type RolloutStrategy = "in-place" | "replace";

export interface RolloutPlan {
  /** Default in-place: deploy on the instances themselves. */
  strategy?: RolloutStrategy;
  /** Set when strategy is replace. */
  replace?: ReplacePlan;
  targetVersion: string;
  fleetSize: number;
  batchSize: number;
  minHealthy: number;
  instances: PlannedInstance[];
  batches: PlannedBatch[];
}

export type PlanErrorCode =
  /** The load balancer has no instances. */
  | "EMPTY_FLEET"
  /** The version does not match VERSION_PATTERN. */
  | "INVALID_VERSION"
  | "BATCH_SIZE_ZERO"
  | "BATCH_SIZE_NEGATIVE"
  | "BATCH_SIZE_NOT_INTEGER"
  | "BATCH_SIZE_TOO_LARGE"
  /** A percent outside 1 to 100. */
  | "PERCENT_OUT_OF_RANGE"
  | "MIN_HEALTHY_INVALID"
  /** Taking a batch out would leave fewer than minHealthy instances in service. */
  | "MIN_HEALTHY_UNREACHABLE"
  /** A batch would take every instance out of service, and minHealthy 0 was not given explicitly. */
  | "NO_CAPACITY_LEFT"
  /** Some instances are not in service and includeOutOfService is not set. */
  | "INSTANCES_NOT_IN_SERVICE"
  | "ORDER_DUPLICATE_ID"
  | "ORDER_UNKNOWN_ID"
  /** The explicit order leaves out instances of the fleet. */
  | "ORDER_INCOMPLETE"
  /** The fleet itself lists an instance id twice (a provider bug; refuse rather than guess). */
  | "FLEET_DUPLICATE_ID";

/** The form field a plan error belongs to, so the UI can show it next to that field. */
export type PlanField = "version" | "batchSize" | "minHealthy" | "order" | "fleet";

export interface PlanError {
  code: PlanErrorCode;
  field: PlanField;
  message: string;
}

export type PlanResult = { ok: true; plan: RolloutPlan } | { ok: false; error: PlanError };

/** The per-instance procedure, in order (the in-place strategy). */
export const STEPS = ["deregister", "drain", "stop", "deploy", "start", "verify", "register", "wait-in-service"] as const;
/**
 * The replace strategy's batch: launch the surge (and point the group at the new launch version),
 * take the old batch out and drain it, terminate it in the group, wait for the replacements, verify
 * the new instances. `launch` and `replace` act on the group; the others on instances.
 */
export const REPLACE_STEPS = ["launch", "deregister", "drain", "terminate", "replace", "verify"] as const;
export type StepName = (typeof STEPS)[number] | (typeof REPLACE_STEPS)[number];
/** Every step name, for per-instance step records. */
export const ALL_STEPS: readonly StepName[] = [...STEPS, "launch", "terminate", "replace"];

export type HookName = "stop" | "deploy" | "start" | "verify";

/**
 * The exit status a hook script uses when it refuses its input before changing anything (a version
 * outside the rule, an unknown hook): EX_USAGE from sysexits.h. The engine reports such a failure
 * with `changed: false`, so abort knows the instance is as it was.
 */
export const HOOK_REFUSED_EXIT = 64;

export type RolloutPhase =
  | "planned"
  | "running"
  | "awaiting-approval"
  | "baking"
  | "paused"
  | "failed-awaiting-operator"
  | "aborting"
  | "aborted"
  | "rolling-back"
  | "rolled-back"
  | "succeeded";

export type ApprovalMode = { kind: "manual" } | { kind: "auto"; bakeMs: number };

/**
 * Effects are data: the state machine asks, the engine performs and reports back with events.
 * `effectId` correlates the report with the request and is unique within a rollout.
 */
export type Effect =
  | { type: "deregister"; effectId: string; batch: number; ids: string[] }
  | { type: "waitDrain"; effectId: string; batch: number; ids: string[]; timeoutMs: number }
  | {
      type: "runHook";
      effectId: string;
      batch: number;
      ids: string[];
      hook: HookName;
      params: { version: string };
      /** How long the hook may run before the engine reports `step-timed-out`. */
      timeoutMs?: number;
    }
  | { type: "register"; effectId: string; batch: number; ids: string[] }
  | { type: "waitInService"; effectId: string; batch: number; ids: string[]; timeoutMs: number }
  /**
   * Replace strategy: bring the group to `launchVersion` and `desired` (absolute, so performing it again
   * launches nothing twice), then wait until every id in `retiring` has left the group and at least
   * `want` instances the rollout does not know yet (not in `known`) are InService in the group, launched
   * from `launchVersion`, and in service at every load balancer. The result lists those new instances.
   * `ids`: the batch's old instances (what the new ones replace), for the record.
   */
  | {
      type: "scaleGroup";
      effectId: string;
      batch: number;
      step: "launch" | "replace";
      ids: string[];
      group: string;
      launchVersion: string;
      desired: number;
      want: number;
      known: string[];
      retiring: string[];
      timeoutMs: number;
    }
  /** Replace strategy: terminate `ids` in the group, decrementing the desired capacity for the first `decrement` of them. */
  | { type: "terminate"; effectId: string; batch: number; ids: string[]; group: string; decrement: number; timeoutMs: number }
  /**
   * After a forward batch is back in service: watch `windowMs` of traffic, then compare the batch's
   * new instances (`fresh`) with the instances still on the old version (`old`), and read `alarms`
   * during the window. Reported by `analysis-finished`. Performed again after a crash: the window starts over.
   */
  | { type: "analyze"; effectId: string; batch: number; fresh: string[]; old: string[]; windowMs: number; alarms: string[]; thresholds: AnalysisThresholds }
  /** Manual mode: `batch` is the 0-based index of the batch waiting for approval to start. */
  | { type: "awaitApproval"; effectId: string; batch: number }
  /** Auto mode: `batch` is the batch that just finished and bakes until `until`. */
  | { type: "sleep"; effectId: string; batch: number; ms: number; until: number };

export type EffectType = Effect["type"];

/** What one instance's part of a step produced. */
export interface InstanceStepResult {
  id: string;
  ok: boolean;
  exitCode?: number | null;
  durationMs?: number;
  /** Last lines of the hook's output, or the provider's message. */
  outputTail?: string;
  message?: string;
  /**
   * false: the step failed before changing anything on the instance (a hook that refused its input,
   * exit status 64; a version the provider refused to send). Abort relies on it to return the instance.
   */
  changed?: boolean;
  /** scaleGroup: an instance of the rollout the group no longer has (it terminated it on its own, e.g. to shrink). */
  gone?: boolean;
  /** scaleGroup: a new instance's zone and the other load balancers it serves (besides the rollout's). */
  zone?: string;
  alsoIn?: string[];
}

export type OperatorEvent =
  | { type: "start" }
  /** `batch`: the 0-based index of the batch to start (awaitApproval's `batch`); a different one is STALE_BATCH. */
  | { type: "approve"; batch?: number }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "abort" }
  | { type: "rollback" }
  | { type: "retry-step" }
  | { type: "skip-instance"; instanceId: string }
  | { type: "continue-now" };

export type EngineEvent =
  | { type: "step-started"; effectId: string }
  | { type: "step-succeeded"; effectId: string; results?: InstanceStepResult[] }
  | { type: "step-failed"; effectId: string; results: InstanceStepResult[]; message: string }
  | { type: "step-timed-out"; effectId: string; ids: string[]; message: string }
  | { type: "drain-observed"; inFlight: Record<string, number> }
  | { type: "health-observed"; states: Record<string, LbState> }
  /** The verdict of an `analyze` effect, with the figures it was reached on. */
  | { type: "analysis-finished"; effectId: string; analysis: AnalysisReport }
  | { type: "tick" };

export type OperatorEventType = OperatorEvent["type"];
export type EngineEventType = EngineEvent["type"];

/** Every event carries the time it happened and who caused it ("engine" or an operator's name). */
export type RolloutEvent = (OperatorEvent | EngineEvent) & { at: number; actor: string };

/** Why an event was refused; the UI shows `message` as it is. */
export interface Rejection {
  code:
    | "NOT_ALLOWED_IN_PHASE"
    | "UNKNOWN_EFFECT"
    | "UNKNOWN_INSTANCE"
    | "STALE_BATCH"
    | "INVALID_EVENT"
    /** A rollback was asked for but some touched instance has no known previous version. */
    | "ROLLBACK_UNAVAILABLE";
  message: string;
}

/**
 * Batch analysis, per rollout: after each forward batch is back in service, watch `windowMs` of
 * traffic and judge the batch's new instances against the old ones (lib/analysis.ts). Absent: off.
 */
export interface AnalysisSettings {
  windowMs: number;
  thresholds: AnalysisThresholds;
  /** A failed verdict: roll back automatically, or pause for a person (default). Inconclusive always pauses. */
  onFail: "pause" | "rollback";
  /** CloudWatch alarms (AWS) read during the window: any in ALARM fails the batch. */
  alarms: string[];
}

/** What the engine measured and concluded for one batch (the `analysis-finished` event carries it): judge()'s result and its window. */
export interface AnalysisReport extends AnalysisResult {
  /** The window, epoch ms. */
  from: number;
  to: number;
  freshIds: string[];
  oldIds: string[];
  /** Each named alarm's worst state seen during the window. */
  alarms?: AlarmState[];
  /** The load balancer's own metrics over the window (AWS), shown for context; not judged. */
  lbMetrics?: LbWindowMetrics | null;
}

/** A batch's analysis as the rollout keeps it: the report and what Rotor did about it. */
export interface BatchAnalysis extends AnalysisReport {
  /** continued: passed; paused: waits for a person; rolled-back: rollback started automatically. */
  action: "continued" | "paused" | "rolled-back";
  /** Why the action differs from the policy (e.g. a rollback that is not possible). */
  note?: string;
}
