/**
 * The provider port: the one interface between Rotor and a fleet (the local fleet, AWS, …).
 * Adapters reshape their vendor's answers into these types; nothing above the port sees an SDK type.
 */
import type { HookName } from "@/lib/rollout/types";
import type { ReplaceSurveyResult } from "@/lib/rollout/replace-check";

export type { InstanceView, LoadBalancerSummary, ProviderName, TrafficStats } from "@/lib/fleet";
import type { InstanceView, LoadBalancerSummary, ProviderName, TrafficStats } from "@/lib/fleet";

export interface HookParams {
  /** Already checked against VERSION_PATTERN; adapters still pass it as data, never through a shell string. */
  version: string;
}

export interface HookResult {
  id: string;
  ok: boolean;
  exitCode: number | null;
  durationMs: number;
  /** The last lines of the hook's output (a few KB at most). */
  outputTail: string;
  /** For `verify`: the version the instance answered with, when it could tell. */
  observedVersion?: string;
  /** The provider's handle for the command that ran it (SSM: the CommandId), where it has one. */
  commandId?: string;
}

/** A hook command sent to some instances, as recorded in the rollout's log before waiting on it. */
export interface SentCommand {
  commandId: string;
  ids: string[];
}

/**
 * The reason a caller aborts a hook's signal with when it stops waiting but wants the command to run
 * on: an engine shutting down (the next engine resumes polling the recorded command). A provider then
 * stops waiting and does NOT cancel; any other abort reason (an operator's abort) cancels.
 */
export class HookDetached extends Error {
  constructor(message = "the engine stopped waiting; the command runs on for the next engine") {
    super(message);
    this.name = "HookDetached";
  }
}

/** True for a HookDetached reason, also one thrown from another bundle's copy of the class. */
export function isHookDetached(reason: unknown): boolean {
  return reason instanceof Error && reason.name === "HookDetached";
}

export interface HookOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once per command sent, before any wait on it, so the caller can record it durably. */
  onSent?(command: SentCommand): void;
  /**
   * Commands an earlier engine sent for this same hook that may still run: the provider polls them
   * (never sends them again) until they end, and sends anew only for instances they do not cover.
   */
  resume?: SentCommand[];
}


/** A non-fatal problem the dashboard shows as a warning (e.g. AWS throttling that was backed off). */
export interface ProviderWarning {
  at: number;
  code: ProviderErrorCode;
  message: string;
  lb?: string;
}

import type { FaultView } from "@/lib/views";
import type { AlarmState, BackendStatsSnapshot, LbWindowMetrics } from "@/lib/analysis";

/** Optional capability: arming failures on purpose (the local fleet has it, for demos and tests). */
export interface FaultInjection {
  list(): Promise<FaultView[]>;
  /**
   * `kind` is one the provider knows (the local fleet: FAULT_KINDS); an unknown one is refused. The local
   * fleet's extras: `delayMs` (slow-responses), `rate` (backend-500), `onVersion` (both: only while the instance serves it).
   */
  inject(fault: { kind: string; instanceId: string; delayMs?: number; rate?: number; onVersion?: string }): Promise<FaultView[]>;
  clear(): Promise<FaultView[]>;
}

/**
 * The `replace` strategy's view of the Auto Scaling group behind a load balancer: the group as it is
 * now. `launchVersion` is what new instances start from (AWS: the launch template version number the
 * group resolves to, as a string; local: the release).
 */
export interface ScalingGroupState {
  name: string;
  min: number;
  desired: number;
  max: number;
  launchVersion: string;
  /** The load balancers (Rotor names) new instances join: a new instance counts once in service at every one. */
  loadBalancers: string[];
  instances: ScalingGroupInstance[];
  /** The group's own scaling activities, newest first (a bounded page). */
  activities: ScalingGroupActivity[];
}

export interface ScalingGroupInstance {
  id: string;
  /** Auto Scaling's LifecycleState: Pending, InService, Terminating, Standby, … */
  lifecycleState: string;
  /** The launch version it started from; null when the provider cannot tell. */
  launchVersion: string | null;
  zone?: string;
}

export interface ScalingGroupActivity {
  id: string;
  status: string;
  /** One line: what the group did and why, in its own words. */
  description: string;
  startedAt: number | null;
  endedAt: number | null;
}

/**
 * Optional capability: replacing instances through their Auto Scaling group. Every change is
 * idempotent, so an engine that resumes after a crash can perform an effect again safely:
 * desired capacities are absolute, a terminate of an instance already terminating or gone succeeds
 * (and decrements nothing).
 */
export interface ScalingGroups {
  /**
   * Everything the readiness check (lib/rollout/replace-check.ts) needs about the group behind `lb`,
   * with `target` resolved (AWS: a launch template version or an AMI id; local: a release), read fresh.
   * Throws a ProviderError naming the call that failed.
   */
  survey(lb: string, target: string): Promise<ReplaceSurveyResult>;
  /**
   * Makes the launch version the rollout will use exist, when the target needs creating (AWS: an AMI id
   * becomes a new launch template version). Returns the launch version to point the group at.
   * Called once the checks passed, before the rollout is recorded. Local: returns `target`.
   */
  prepareTarget(lb: string, target: string): Promise<string>;
  describe(group: string): Promise<ScalingGroupState>;
  setLaunchVersion(group: string, version: string): Promise<void>;
  setDesiredCapacity(group: string, desired: number): Promise<void>;
  terminate(group: string, id: string, decrementDesired: boolean): Promise<void>;
}

/**
 * Optional capability: the figures a batch analysis judges by (lib/analysis.ts does the judging).
 * Each part is optional: a provider offers what it has. Every call reads fresh and throws a
 * ProviderError (naming the call, and on AWS the IAM permission) when it cannot.
 */
export interface BatchAnalysisSource {
  /**
   * Per-instance cumulative counters and latency histograms at `lb` now (the ids given, all behind
   * `lb`, or every instance): take one at the start of the window and one at its end, then
   * diffSnapshots. The local fleet has it; AWS does not (its load balancer metrics have no per-instance split).
   */
  snapshot?(lb: string, ids?: readonly string[]): Promise<BackendStatsSnapshot>;
  /** The named alarms' states now (AWS: CloudWatch). A name the service does not know throws NOT_FOUND. */
  alarms?(names: readonly string[]): Promise<AlarmState[]>;
  /** The load balancer's own metrics over [from, to] (epoch ms), for the whole of it; null when it has none. */
  lbMetrics?(lb: string, from: number, to: number): Promise<LbWindowMetrics | null>;
}

export interface LoadBalancerProvider {
  readonly name: ProviderName;
  listLoadBalancers(): Promise<LoadBalancerSummary[]>;
  /**
   * One refresh of a load balancer's instances: a bounded number of API calls whatever the fleet size.
   * `include`: instances a rollout holds out of rotation here (from the store), which a provider that
   * stops listing deregistered instances should still report on (e.g. still draining); optional.
   */
  describeInstances(lb: string, options?: { include?: readonly string[] }): Promise<InstanceView[]>;
  drainTimeoutMs(lb: string): Promise<number>;
  /** Idempotent: deregistering a deregistered instance succeeds. Returns at once; draining is observed via describeInstances. */
  deregister(lb: string, ids: string[]): Promise<void>;
  /** Idempotent: registering a registered instance succeeds. */
  register(lb: string, ids: string[]): Promise<void>;
  /**
   * Every load balancer (within the provider's scope, the given one included) each instance is
   * registered in, read fresh. Throws a ProviderError (AUTH, CONFIG, …) naming the call that failed
   * when membership cannot be determined; a rollout then refuses to start.
   */
  memberships(ids: string[]): Promise<Record<string, string[]>>;
  /** Run a lifecycle hook on instances; one result per id, in the order given. Never throws for a hook that fails: that is `ok: false`. */
  runHook(lb: string, ids: string[], hook: HookName, params: HookParams, options: HookOptions): Promise<HookResult[]>;
  /** Traffic counters where the provider has them (the local fleet does; AWS: null). */
  trafficStats(lb: string): Promise<TrafficStats | null>;
  /** Auto Scaling groups, where the provider can replace instances (AWS, the local fleet). */
  readonly groups?: ScalingGroups;
  /** Fault injection, where the provider offers it (never on AWS). */
  readonly faults?: FaultInjection;
  /** Figures for batch analysis, where the provider has them. */
  readonly analysis?: BatchAnalysisSource;
  /** Recent warnings (oldest first), optionally only those at or after `since` (epoch ms). */
  warnings?(since?: number): ProviderWarning[];
  close?(): Promise<void>;
}

export type ProviderErrorCode =
  | "THROTTLED"
  | "UNAVAILABLE"
  | "TIMEOUT"
  | "NOT_FOUND"
  | "INVALID_INPUT"
  | "AUTH"
  | "CONFIG"
  | "INTERNAL";

const TRANSIENT: ReadonlySet<ProviderErrorCode> = new Set(["THROTTLED", "UNAVAILABLE", "TIMEOUT"]);

/** A provider failure with a code the engine can act on: transient ones are retried with backoff. */
export class ProviderError extends Error {
  readonly code: ProviderErrorCode;
  readonly transient: boolean;
  constructor(code: ProviderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProviderError";
    this.code = code;
    this.transient = TRANSIENT.has(code);
  }
}

/**
 * The error as a ProviderError, when it is one. Not only `instanceof`: Next bundles the dashboard's
 * instrumentation hook and its route handlers separately, so an error thrown by a provider the
 * instrumentation built is an instance of another copy of this class; its name and code still say it.
 */
export function asProviderError(err: unknown): ProviderError | null {
  if (err instanceof ProviderError) return err;
  if (!(err instanceof Error) || err.name !== "ProviderError") return null;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && PROVIDER_ERROR_CODES.has(code as ProviderErrorCode) ? (err as ProviderError) : null;
}

const PROVIDER_ERROR_CODES: ReadonlySet<ProviderErrorCode> = new Set(["THROTTLED", "UNAVAILABLE", "TIMEOUT", "NOT_FOUND", "INVALID_INPUT", "AUTH", "CONFIG", "INTERNAL"]);
