/**
 * The JSON the dashboard's read API returns, as the browser sees it.
 * Rollout shapes come from lib/views.ts (what the engine's queries return); fleet shapes are
 * the monitor's snapshot reshaped for one page.
 */
import type { ApprovalMode, LbState, RolloutPhase, StepName } from "@/lib/rollout/types";
import type { RolloutDetail, StepStatus } from "@/lib/views";

export type { BatchView, CapacityView, InstanceProgress, RolloutSummary, StepStatus, StepView, StoredEvent, TrafficView } from "@/lib/views";

export type { InstanceView, LoadBalancerSummary } from "@/lib/fleet";
import type { InstanceView, LoadBalancerSummary, TrafficStats } from "@/lib/fleet";

/** A load balancer's traffic counters since the fleet started (or was reset). */
export type LbTrafficView = TrafficStats & { lb: string };

export interface ActiveRolloutRef {
  id: string;
  phase: RolloutPhase;
  message: string;
  targetVersion: string;
  progress: number;
}

export interface LoadBalancerRow extends LoadBalancerSummary {
  counts: Partial<Record<LbState, number>>;
  total: number;
  versions: { version: string | null; count: number }[];
  activeRollout: ActiveRolloutRef | null;
  traffic: LbTrafficView | null;
  error?: string;
}

export interface FleetRow extends InstanceView {
  /** Where the active rollout has this instance, if it is in one. */
  rollout?: { batch: number; step: StepName | "queued" | "done"; status: StepStatus; direction: "forward" | "rollback" };
}

export interface FleetView {
  lb: LoadBalancerSummary;
  at: number;
  instances: FleetRow[];
  activeRollout: ActiveRolloutRef | null;
  error?: string;
}

export type StreamMessage =
  | { kind: "hello" }
  | { kind: "rollout"; id: string; lb?: string }
  | { kind: "instances"; lb: string }
  | { kind: "traffic"; lb: string };


export type { NextAction as NextActionView } from "@/lib/rollout/derive";

/**
 * `GET /api/rollouts/{id}`: the engine's RolloutDetail (summary, derivePhase's view, batches with
 * per-instance steps, capacity, traffic since the start, events) without the raw machine state.
 */
export type RolloutDetailView = Omit<RolloutDetail, "state"> & { approval: ApprovalMode; drainTimeoutMs: number };

/** An armed fault of the local fleet (fault injection for demos and tests). */
export interface FaultView {
  kind: string;
  instanceId: string;
  since: number;
  holdMs?: number;
  active?: boolean;
}
