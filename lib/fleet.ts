/**
 * What a provider reports about load balancers and their instances, in Rotor's own words. The provider
 * port (server/providers/types.ts) returns these, and the dashboard renders them: one definition for both.
 */
import type { FleetInstance, LbState } from "./rollout/types";

export type ProviderName = "local" | "aws";

export interface LoadBalancerSummary {
  /** Unique within the provider; used in URLs (`/lb/{name}`). */
  name: string;
  provider: ProviderName;
  /** `local` fleet, AWS `classic` ELB, or an ALB/NLB `target-group`. */
  kind: "local" | "classic" | "target-group";
  /** Connection draining / deregistration delay, as the load balancer itself is configured. */
  drainTimeoutMs: number;
  description?: string;
  /** What the instances run, where the provider knows it (the local fleet: its Node server, or Apache httpd + mod_perl). */
  server?: "node" | "apache";
  /**
   * Why this load balancer cannot be shown, as one sentence (what is wrong, which setting, what to do),
   * e.g. a configured name the provider does not know. Only this one is affected; the others work.
   */
  problem?: string;
}

export interface InstanceView {
  id: string;
  name?: string;
  zone: string;
  state: LbState;
  /** The provider's own words, e.g. "Instance deregistration currently in progress.". */
  description: string;
  /** The provider's reason code (Classic: ELB | Instance | N/A; v2: Target.FailedHealthChecks …). */
  reasonCode?: string;
  /** Requests in flight now, where the provider can know it; null otherwise. */
  inFlight: number | null;
  /** The version the instance serves, where the provider can know it; null otherwise. */
  version: string | null;
  /** Last health-check result, where known. */
  healthCheck?: { ok: boolean; detail: string };
  address?: string;
  /** The server's (Apache: parent) process id, where the provider knows it. */
  pid?: number | null;
  /**
   * The other load balancers (Rotor names, within the provider's scope) this instance is registered
   * in. A rollout takes it out of all of them, and puts it back in all of them.
   */
  alsoIn?: string[];
  /** Where `version` came from: the instance's version tag, the version hook, or the instance's own answer. */
  versionSource?: VersionSource;
  /** The active rollout that holds this instance out of rotation, from the rollout's durable state. */
  heldBy?: { rolloutId: string; lb: string };
}

export type VersionSource = "tag" | "hook" | "instance";

/** Traffic as the load balancer (or the local traffic generator) counts it. */
export interface TrafficStats {
  at: number;
  requests: number;
  ok: number;
  failed: number;
  /** Failures by kind: `status_5xx`, `status_502`, `reset`, `timeout`, … */
  failuresByKind: Record<string, number>;
  /** Requests per second over the last few seconds. */
  ratePerSec?: number;
}

/** An instance as the planner takes it: the plan preview and the server plan from the same fields. */
export function toFleetInstance(i: InstanceView): FleetInstance {
  return {
    id: i.id,
    zone: i.zone,
    state: i.state,
    version: i.version,
    ...(i.name ? { name: i.name } : {}),
    ...(i.alsoIn && i.alsoIn.length > 0 ? { alsoIn: i.alsoIn } : {}),
    ...(i.versionSource ? { versionSource: i.versionSource } : {}),
  };
}
