/**
 * Reshape functions: AWS answers → port types. Pure, so the state mapping is tested with the real
 * description strings and reason codes AWS documents for Classic ELB's InstanceState and ELBv2's
 * TargetHealth (__tests__/reshape.test.ts quotes them).
 */
import { VERSION_PATTERN, type LbState } from "@/lib/rollout/types";
import type { InstanceView } from "@/server/providers/types";
import { TARGET_GROUP_PREFIX } from "@/server/providers/aws/config";

export const CLASSIC_DESCRIPTIONS = {
  deregistering: "Instance deregistration currently in progress.",
  notRegistered: "Instance is not currently registered with the LoadBalancer.",
  registering: "Instance registration is still in progress.",
  notYetHealthy: "Instance has not passed the configured HealthyThreshold number of health checks consecutively.",
} as const;

const has = (description: string | undefined, fragment: string) =>
  (description ?? "").toLowerCase().includes(fragment.toLowerCase().replace(/\.$/, ""));

export interface ClassicHealth {
  state?: string;
  reasonCode?: string;
  description?: string;
}

/**
 * Classic ELB `DescribeInstanceHealth` → LbState. Read the description, not only the state: a draining
 * instance still reads InService with "Instance deregistration currently in progress.".
 * `registered` is false for an instance Rotor knows of that is not in the load balancer's list.
 *
 * @example classicState({ state: "InService", description: "Instance deregistration currently in progress." }) // "draining"
 * @example classicState({ state: "OutOfService", description: "Instance registration is still in progress." }) // "registering"
 */
export function classicState(h: ClassicHealth, registered = true): LbState {
  const d = h.description;
  if (has(d, CLASSIC_DESCRIPTIONS.deregistering)) return "draining";
  if (has(d, CLASSIC_DESCRIPTIONS.notRegistered)) return "out-of-service";
  switch (h.state) {
    case "InService":
      return registered ? "in-service" : "out-of-service";
    case "OutOfService":
      if (!registered) return "out-of-service";
      return has(d, CLASSIC_DESCRIPTIONS.registering) || has(d, CLASSIC_DESCRIPTIONS.notYetHealthy) ? "registering" : "out-of-service";
    default:
      // "Unknown" (e.g. "A transient error occurred. Please try again later."), or not registered at all.
      return registered ? "unknown" : "out-of-service";
  }
}

/** The description to show: AWS's own words, or AWS's wording for a not-registered instance when the API gave none. */
export function classicDescription(h: ClassicHealth, registered: boolean): string {
  const d = h.description && h.description !== "N/A" ? h.description : "";
  if (d) return d;
  if (!registered) return CLASSIC_DESCRIPTIONS.notRegistered;
  return h.state ?? "Unknown";
}

export interface TargetHealthLike {
  state?: string;
  reason?: string;
  description?: string;
}

/**
 * ALB/NLB `TargetHealth` → LbState.
 *
 * @example targetState({ state: "initial", reason: "Elb.InitialHealthChecking" }) // "registering"
 * @example targetState({ state: "draining", reason: "Target.DeregistrationInProgress" }) // "draining"
 * @example targetState({ state: "unused", reason: "Target.NotRegistered" }) // "out-of-service"
 */
export function targetState(h: TargetHealthLike): LbState {
  switch (h.state) {
    case "healthy":
      return "in-service";
    case "initial":
      return "registering";
    case "draining":
    case "unhealthy.draining":
      return "draining";
    case "unhealthy":
    case "unused":
      return "out-of-service";
    case "unavailable": // health checks disabled: the load balancer cannot say
    default:
      return h.reason === "Target.DeregistrationInProgress" ? "draining" : "unknown";
  }
}

export function targetDescription(h: TargetHealthLike): string {
  return h.description ?? (h.reason ? `${h.state ?? "unknown"} (${h.reason})` : (h.state ?? "unknown"));
}

/** What EC2 tells us about an instance, already reshaped. */
export interface Ec2Info {
  id: string;
  name?: string;
  zone: string;
  address?: string;
  /** EC2 instance state: pending | running | stopping | stopped | shutting-down | terminated. */
  ec2State: string;
  version: string | null;
}

interface Ec2InstanceLike {
  InstanceId?: string;
  Placement?: { AvailabilityZone?: string };
  PrivateIpAddress?: string;
  State?: { Name?: string };
  Tags?: { Key?: string; Value?: string }[];
}

export function reshapeEc2(i: Ec2InstanceLike, versionTag: string): Ec2Info | null {
  if (!i.InstanceId) return null;
  const tag = (key: string) => i.Tags?.find((t) => t.Key === key)?.Value;
  return {
    id: i.InstanceId,
    name: tag("Name") || undefined,
    zone: i.Placement?.AvailabilityZone ?? "unknown",
    address: i.PrivateIpAddress,
    ec2State: i.State?.Name ?? "unknown",
    version: (versionTag && tag(versionTag)) || null,
  };
}

/** Joins the load balancer's view with EC2's. A stopped or terminated instance is never in service. */
export function instanceView(
  id: string,
  lb: { state: LbState; description: string; reasonCode?: string },
  ec2: Ec2Info | undefined,
  inFlight: number | null,
): InstanceView {
  const ec2Down = ec2 !== undefined && ec2.ec2State !== "running" && ec2.ec2State !== "pending";
  return {
    id,
    name: ec2?.name,
    zone: ec2?.zone ?? "unknown",
    state: ec2Down && lb.state === "in-service" ? "out-of-service" : lb.state,
    description: ec2Down ? `${lb.description} (EC2 instance is ${ec2.ec2State})` : lb.description,
    reasonCode: lb.reasonCode,
    inFlight,
    version: ec2?.version ?? null,
    address: ec2?.address,
  };
}

export type LbRef = { kind: "classic"; awsName: string } | { kind: "target-group"; awsName: string };

/** `my-elb` → Classic ELB `my-elb`; `tg_my-tg` → target group `my-tg`. */
export function parseLbName(name: string): LbRef {
  return name.startsWith(TARGET_GROUP_PREFIX)
    ? { kind: "target-group", awsName: name.slice(TARGET_GROUP_PREFIX.length) }
    : { kind: "classic", awsName: name };
}

export function rotorLbName(ref: LbRef): string {
  return ref.kind === "target-group" ? `${TARGET_GROUP_PREFIX}${ref.awsName}` : ref.awsName;
}

/** The last integer printed by the in-flight probe, or null. */
export function parseInFlight(output: string): number | null {
  const matches = output.match(/\d+/g);
  const last = matches?.[matches.length - 1];
  return last === undefined ? null : Number(last);
}

/**
 * The version the version hook printed: its `rotor-version=…` line (the built-in hook), else the last
 * line of its standard output (a configured command such as `cat VERSION`); null unless a valid version.
 */
export function parseHookVersion(output: string): string | null {
  const stdout = output.split(/\n--- /, 1)[0] ?? "";
  const tagged = parseObservedVersion(stdout);
  if (tagged) return tagged;
  const last = stdout.split("\n").map((l) => l.trim()).filter(Boolean).pop() ?? "";
  return VERSION_PATTERN.test(last) ? last : null;
}

/** The version printed by the verify hook as `rotor-version=…`, when it printed one. */
export function parseObservedVersion(output: string): string | undefined {
  const m = /rotor-version=([A-Za-z0-9._+-]{1,128})\s*$/m.exec(output);
  return m?.[1];
}

/** The last `max` characters of output, cut at a line start when possible. */
export function tail(output: string, max = 4_000): string {
  if (output.length <= max) return output;
  const cut = output.slice(-max);
  const nl = cut.indexOf("\n");
  return nl >= 0 && nl < 200 ? cut.slice(nl + 1) : cut;
}
