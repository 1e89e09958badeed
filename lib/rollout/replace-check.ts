/**
 * The `replace` strategy's readiness check, before any change: given the Auto Scaling group behind a
 * load balancer's instances (as data: the AWS adapter reads it, a local "group" can produce the same
 * shape), either the capacity at each step of the rollout, or every reason it cannot start, each
 * saying what to do. Pure: no I/O, no clock.
 *
 * Capacity model, per batch of `b` old instances with `s = min(surge, b)`:
 *   surge      desired D → D + s; wait until the s new instances are in service
 *   take out   deregister the b old ones: in service D + s − b (the batch's low point)
 *   terminate  terminate the b old ones, decrementing desired for s of them (desired back to D),
 *              not for the other b − s, which the group replaces
 *   replaced   in service D again
 * With surge = batch size, in service never falls below D; without surge it falls to D − b.
 */
import { z } from "zod";

/** A group's process Rotor needs running: without it new instances never come, or old ones never go. */
export const NEEDED_PROCESSES = ["Launch", "Terminate", "ReplaceUnhealthy", "AZRebalance", "AddToLoadBalancer"] as const;

const WHY_NEEDED: Record<(typeof NEEDED_PROCESSES)[number], string> = {
  Launch: "the group could launch no new instance, so no replacement would ever come",
  Terminate: "the group could not terminate the old instances",
  ReplaceUnhealthy: "an instance that fails its health check mid-rollout would stay unhealthy instead of being replaced",
  AZRebalance: "resuming it later would make the group launch and terminate instances of its own to rebalance zones, mixing old and new",
  AddToLoadBalancer: "new instances would not be registered with the load balancer",
};

export type GroupLaunchSource =
  /** `version` as the group names it ("3", "$Latest", "$Default"); `resolvedVersion` the number it means now. */
  | { kind: "launch-template"; id: string; name: string; version: string; resolvedVersion?: number }
  | { kind: "mixed-instances"; id?: string; name?: string; version?: string }
  | { kind: "launch-configuration"; name: string }
  | { kind: "none" };

export interface GroupInstance {
  id: string;
  zone?: string;
  /** Auto Scaling's LifecycleState: InService, Pending, Pending:Wait, Standby, Terminating:Wait, … */
  lifecycleState: string;
  /** Healthy | Unhealthy */
  healthStatus: string;
  protectedFromScaleIn: boolean;
  /** The launch template version the instance was launched from, as Auto Scaling reports it. */
  launchTemplateVersion?: string;
}

export interface LifecycleHook {
  name: string;
  /** autoscaling:EC2_INSTANCE_LAUNCHING | autoscaling:EC2_INSTANCE_TERMINATING */
  transition: string;
  heartbeatTimeoutSeconds?: number;
  defaultResult?: string;
}

export interface SuspendedProcess {
  process: string;
  reason?: string;
}

export interface AutoScalingGroupView {
  name: string;
  arn?: string;
  min: number;
  desired: number;
  max: number;
  source: GroupLaunchSource;
  instances: GroupInstance[];
  suspended: SuspendedProcess[];
  loadBalancerNames: string[];
  targetGroupArns: string[];
  lifecycleHooks: LifecycleHook[];
}

/** The load balancer the rollout rotates, as the group names its attachments. */
export type ChosenLoadBalancer = { kind: "classic"; rotorName: string; name: string } | { kind: "target-group"; rotorName: string; name: string; arn: string };

/** What the launch template target resolved to (the AWS adapter checks it exists). */
export type LaunchTarget =
  | { kind: "version"; launchTemplateId: string; version: number; imageId?: string }
  /** An AMI: a later step creates a new launch template version from `baseVersion` with this image. */
  | { kind: "image"; launchTemplateId: string; imageId: string; baseVersion: number }
  /** The local fleet: its group launches new instances from a release. */
  | { kind: "release"; version: string }
  | { kind: "missing"; message: string };

export const replaceOptionsSchema = z
  .object({
    batchSize: z.number({ error: "Batch size must be a number" }).int("Batch size must be a whole number").min(1, "Batch size must be at least 1"),
    /** New instances launched before each batch is taken out; 0 = no surge. At most the batch size. */
    surge: z.number({ error: "Surge must be a number" }).int("Surge must be a whole number").min(0, "Surge cannot be negative"),
    /** In-service instances the rollout must never go below; default: none beyond the batch arithmetic. */
    minHealthy: z.number().int("Minimum healthy must be a whole number").min(0, "Minimum healthy cannot be negative").optional(),
  })
  .refine((o) => o.surge <= o.batchSize, { message: "Surge cannot exceed the batch size: each batch launches at most as many new instances as it retires", path: ["surge"] });

export type ReplaceOptions = z.infer<typeof replaceOptionsSchema>;

export interface ReplaceCheckInput {
  lb: ChosenLoadBalancer;
  /** Every instance registered at the chosen load balancer now. */
  lbInstanceIds: readonly string[];
  /** The group of each of those instances (null: in none), as Auto Scaling reports it. */
  groupOf: Readonly<Record<string, string | null>>;
  /** The one group found, described; null when none was found or they are spread over several. */
  group: AutoScalingGroupView | null;
  target: LaunchTarget;
  options: ReplaceOptions;
}

export type RefusalCode =
  | "NO_GROUP"
  | "SEVERAL_GROUPS"
  | "OUTSIDE_GROUP"
  | "GROUP_OUTSIDE_LB"
  | "LB_NOT_ATTACHED"
  | "UNSUPPORTED_LAUNCH"
  | "TARGET_MISSING"
  | "TARGET_IS_CURRENT"
  | "PROCESS_SUSPENDED"
  | "SURGE_ABOVE_MAX"
  | "BELOW_MIN_HEALTHY"
  | "STANDBY"
  | "PROTECTED"
  | "WAITING_ON_HOOK"
  | "NOT_STEADY";

export interface Refusal {
  code: RefusalCode;
  message: string;
  /** Instances the reason is about, when it names some. */
  ids?: string[];
}

export interface CapacityStep {
  batch: number;
  /** Old instances this batch retires. */
  replace: number;
  /** New instances launched before the batch is taken out. */
  surge: number;
  /** Desired capacity at its highest in this batch (after the surge). */
  peakDesired: number;
  /** In service at the batch's low point (old batch out, replacements not yet in service). */
  lowestInService: number;
  /** Desired capacity once the batch is done: always the original. */
  endDesired: number;
}

export interface ReplacePreview {
  group: string;
  min: number;
  desired: number;
  max: number;
  from: string;
  to: string;
  /** Instances to replace, in order; instances already on the target version are left alone. */
  replace: string[];
  steps: CapacityStep[];
  /** Shown in the plan, not refused: lifecycle hooks new instances will pass through, unhealthy instances. */
  notes: string[];
}

export type ReplaceCheck = { ok: true; preview: ReplacePreview; refusals: [] } | { ok: false; preview?: ReplacePreview; refusals: Refusal[] };

const list = (ids: readonly string[], max = 10) => (ids.length <= max ? ids.join(", ") : `${ids.slice(0, max).join(", ")} and ${ids.length - max} more`);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Capacity at each step, pure arithmetic (see the header). */
export function capacitySteps(desired: number, toReplace: number, options: Pick<ReplaceOptions, "batchSize" | "surge">): CapacityStep[] {
  const steps: CapacityStep[] = [];
  for (let done = 0, batch = 1; done < toReplace; batch++) {
    const replace = Math.min(options.batchSize, toReplace - done);
    const surge = Math.min(options.surge, replace);
    steps.push({ batch, replace, surge, peakDesired: desired + surge, lowestInService: desired + surge - replace, endDesired: desired });
    done += replace;
  }
  return steps;
}

function targetLabel(target: LaunchTarget): string {
  switch (target.kind) {
    case "version":
      return `version ${target.version}${target.imageId ? ` (${target.imageId})` : ""}`;
    case "image":
      return `a new version from version ${target.baseVersion} with ${target.imageId}`;
    case "release":
      return `release ${target.version}`;
    case "missing":
      return "(missing)";
  }
}

function sourceLabel(source: GroupLaunchSource): string {
  if (source.kind !== "launch-template") return source.kind;
  const resolved = source.resolvedVersion !== undefined && String(source.resolvedVersion) !== source.version ? ` = ${source.resolvedVersion}` : "";
  return `${source.name} version ${source.version}${resolved}`;
}

function membershipRefusals(input: ReplaceCheckInput): Refusal[] {
  const byGroup = new Map<string, string[]>();
  const outside: string[] = [];
  for (const id of input.lbInstanceIds) {
    const g = input.groupOf[id] ?? null;
    if (g === null) outside.push(id);
    else byGroup.set(g, [...(byGroup.get(g) ?? []), id]);
  }
  const lb = input.lb.rotorName;
  if (input.lbInstanceIds.length === 0) return [{ code: "NO_GROUP", message: `${lb} has no instances, so there is no Auto Scaling group to replace them through` }];
  if (byGroup.size === 0) {
    return [{ code: "NO_GROUP", message: `none of the ${plural(input.lbInstanceIds.length, "instance")} behind ${lb} is in an Auto Scaling group: use the in-place strategy, or name the group` }];
  }
  const out: Refusal[] = [];
  if (byGroup.size > 1) {
    // Largest first: the group the operator most likely meant leads.
    const parts = [...byGroup].sort(([a, x], [b, y]) => y.length - x.length || a.localeCompare(b)).map(([g, ids]) => `${g} (${plural(ids.length, "instance")})`);
    out.push({ code: "SEVERAL_GROUPS", message: `the instances behind ${lb} belong to ${byGroup.size} Auto Scaling groups: ${parts.join(", ")}; replace supports one group per load balancer` });
  }
  if (outside.length > 0) {
    out.push({
      code: "OUTSIDE_GROUP",
      message: `${plural(outside.length, "instance")} behind ${lb} ${outside.length === 1 ? "is" : "are"} in no Auto Scaling group (${list(outside)}): the group cannot replace ${outside.length === 1 ? "it" : "them"}; deregister ${outside.length === 1 ? "it" : "them"} from ${lb} or attach ${outside.length === 1 ? "it" : "them"} to the group first`,
      ids: outside,
    });
  }
  return out;
}

const STEADY = new Set(["InService", "Standby"]);

function groupRefusals(input: ReplaceCheckInput, group: AutoScalingGroupView): Refusal[] {
  const out: Refusal[] = [];
  const lb = input.lb.rotorName;
  const name = group.name;
  // The source of new instances: only a plain launch template is supported.
  if (group.source.kind === "mixed-instances") {
    out.push({ code: "UNSUPPORTED_LAUNCH", message: `${name} launches through a mixed instances policy, which replace does not support yet: point the group at a single launch template, or use the in-place strategy` });
  } else if (group.source.kind === "launch-configuration") {
    out.push({ code: "UNSUPPORTED_LAUNCH", message: `${name} launches from launch configuration ${group.source.name}, which replace does not support (AWS retires launch configurations): migrate the group to a launch template` });
  } else if (group.source.kind === "none") {
    out.push({ code: "UNSUPPORTED_LAUNCH", message: `${name} names no launch template` });
  }
  if (input.target.kind === "missing" && group.source.kind === "launch-template") out.push({ code: "TARGET_MISSING", message: input.target.message });

  // The group must feed the chosen load balancer, or new instances would never join it.
  const attached = input.lb.kind === "classic" ? group.loadBalancerNames.includes(input.lb.name) : group.targetGroupArns.includes(input.lb.arn);
  if (!attached) {
    const how = input.lb.kind === "classic" ? "AttachLoadBalancers" : "AttachLoadBalancerTargetGroups";
    out.push({ code: "LB_NOT_ATTACHED", message: `${name} is not attached to ${lb}, so the instances it launches would not join ${lb}: attach it (${how}) first` });
  }
  const behind = new Set(input.lbInstanceIds);
  const notBehind = group.instances.filter((i) => i.lifecycleState === "InService" && !behind.has(i.id)).map((i) => i.id);
  if (notBehind.length > 0) {
    out.push({
      code: "GROUP_OUTSIDE_LB",
      message: `${plural(notBehind.length, "instance")} of ${name} ${notBehind.length === 1 ? "is" : "are"} not behind ${lb} (${list(notBehind)}): register ${notBehind.length === 1 ? "it" : "them"} with ${lb}, or choose the load balancer the whole group serves`,
      ids: notBehind,
    });
  }

  for (const p of NEEDED_PROCESSES) {
    const s = group.suspended.find((x) => x.process === p);
    if (!s) continue;
    const reason = s.reason ? ` (${s.reason})` : "";
    out.push({
      code: "PROCESS_SUSPENDED",
      message: `${name} has its ${p} process suspended${reason}: ${WHY_NEEDED[p]}; resume it (aws autoscaling resume-processes --auto-scaling-group-name ${name} --scaling-processes ${p}) and plan again`,
    });
  }

  const standby = group.instances.filter((i) => i.lifecycleState.startsWith("Standby")).map((i) => i.id);
  if (standby.length > 0) {
    out.push({
      code: "STANDBY",
      message: `${plural(standby.length, "instance")} of ${name} ${standby.length === 1 ? "is" : "are"} in Standby (${list(standby)}): replace does not take instances out of Standby; put ${standby.length === 1 ? "it" : "them"} back in service (ExitStandby) or detach ${standby.length === 1 ? "it" : "them"}`,
      ids: standby,
    });
  }
  const protectedIds = group.instances.filter((i) => i.protectedFromScaleIn).map((i) => i.id);
  if (protectedIds.length > 0) {
    out.push({
      code: "PROTECTED",
      message: `${plural(protectedIds.length, "instance")} of ${name} ${protectedIds.length === 1 ? "is" : "are"} protected from scale-in (${list(protectedIds)}): replacing means terminating ${protectedIds.length === 1 ? "it" : "them"}, which the protection is there to prevent; remove the protection (SetInstanceProtection --no-protected-from-scale-in) if they may go`,
      ids: protectedIds,
    });
  }
  const waiting = group.instances.filter((i) => i.lifecycleState.endsWith(":Wait") || i.lifecycleState.endsWith(":Proceed"));
  if (waiting.length > 0) {
    const hooks = group.lifecycleHooks.map((h) => h.name);
    out.push({
      code: "WAITING_ON_HOOK",
      message: `${plural(waiting.length, "instance")} of ${name} ${waiting.length === 1 ? "is" : "are"} held by a lifecycle hook (${waiting.map((i) => `${i.id} ${i.lifecycleState}`).join(", ")})${hooks.length > 0 ? ` [hooks: ${hooks.join(", ")}]` : ""}: complete or abandon the action (CompleteLifecycleAction) and plan again`,
      ids: waiting.map((i) => i.id),
    });
  }
  const moving = group.instances.filter((i) => !STEADY.has(i.lifecycleState) && !waiting.includes(i)).map((i) => `${i.id} ${i.lifecycleState}`);
  const inService = group.instances.filter((i) => i.lifecycleState === "InService").length;
  // Instances a hook holds count towards desired: they are refused above, not twice.
  if (moving.length > 0 || inService + waiting.length !== group.desired) {
    const detail = moving.length > 0 ? `: ${list(moving)}` : "";
    out.push({ code: "NOT_STEADY", message: `${name} is changing (desired ${group.desired}, ${inService} in service${detail}): wait until it is steady and plan again` });
  }
  return out;
}

function capacityRefusals(group: AutoScalingGroupView, steps: CapacityStep[], options: ReplaceOptions): Refusal[] {
  const out: Refusal[] = [];
  const peak = Math.max(group.desired, ...steps.map((s) => s.peakDesired));
  if (peak > group.max) {
    const room = Math.max(0, group.max - group.desired);
    out.push({
      code: "SURGE_ABOVE_MAX",
      message: `a surge of ${options.surge} above desired ${group.desired} needs a max of at least ${peak}, and ${group.name}'s max is ${group.max}: raise max to ${peak} or lower the surge to ${room}${room === 0 ? " (no surge)" : ""}`,
    });
  }
  const low = Math.min(group.desired, ...steps.map((s) => s.lowestInService));
  if (options.minHealthy !== undefined && low < options.minHealthy) {
    out.push({
      code: "BELOW_MIN_HEALTHY",
      message: `in service would fall to ${low} during a batch, below the minimum healthy of ${options.minHealthy}: lower the batch size, raise the surge, or lower the minimum`,
    });
  }
  return out;
}

/** The launch version the target names, as instances report theirs (a string). */
function targetVersion(target: LaunchTarget): string | undefined {
  if (target.kind === "version") return String(target.version);
  if (target.kind === "release") return target.version;
  return undefined;
}

export function checkReplace(input: ReplaceCheckInput): ReplaceCheck {
  const options = replaceOptionsSchema.parse(input.options);
  const refusals = membershipRefusals(input);
  const group = input.group;
  if (!group) {
    if (refusals.length === 0) refusals.push({ code: "NO_GROUP", message: `the Auto Scaling group of the instances behind ${input.lb.rotorName} was not found` });
    return { ok: false, refusals };
  }
  refusals.push(...groupRefusals(input, group));

  const to = targetVersion(input.target);
  const source = group.source;
  const current = source.kind === "launch-template" ? (source.resolvedVersion !== undefined ? String(source.resolvedVersion) : source.version) : undefined;
  if (to !== undefined && current === to && group.instances.every((i) => i.launchTemplateVersion === to)) {
    refusals.push({ code: "TARGET_IS_CURRENT", message: `${group.name} already runs launch template version ${to} on every instance: nothing to replace` });
  }
  // Instances already launched from the target version stay; the rest are replaced, in the group's order.
  const replace = group.instances.filter((i) => i.lifecycleState === "InService" && (to === undefined || i.launchTemplateVersion !== to)).map((i) => i.id);
  const steps = capacitySteps(group.desired, replace.length, options);
  refusals.push(...capacityRefusals(group, steps, options));

  const notes: string[] = [];
  for (const h of group.lifecycleHooks) {
    const on = h.transition.endsWith("LAUNCHING") ? "each new instance waits" : h.transition.endsWith("TERMINATING") ? "each old instance waits on termination" : `instances wait (${h.transition})`;
    notes.push(`lifecycle hook ${h.name}: ${on} until the hook completes${h.heartbeatTimeoutSeconds ? `, up to ${h.heartbeatTimeoutSeconds} s (then ${h.defaultResult ?? "ABANDON"})` : ""}`);
  }
  const unhealthy = group.instances.filter((i) => i.healthStatus !== "Healthy").map((i) => i.id);
  if (unhealthy.length > 0) notes.push(`${plural(unhealthy.length, "instance")} the group sees as unhealthy (${list(unhealthy)}): the group may replace ${unhealthy.length === 1 ? "it" : "them"} on its own during the rollout`);

  const preview: ReplacePreview = {
    group: group.name,
    min: group.min,
    desired: group.desired,
    max: group.max,
    from: sourceLabel(group.source),
    to: targetLabel(input.target),
    replace,
    steps,
    notes,
  };
  return refusals.length === 0 ? { ok: true, preview, refusals: [] } : { ok: false, preview, refusals };
}

/** What the operator typed as the target: a launch template version number, $Latest, $Default, or an AMI id. */
export type TargetSpec = { version: number | "$Latest" | "$Default" } | { imageId: string };

export const targetSpecSchema = z
  .string()
  .trim()
  .regex(/^(?:\d{1,9}|\$Latest|\$Default|ami-[0-9a-f]{8}(?:[0-9a-f]{9})?)$/, "The target must be a launch template version (e.g. 3, $Latest, $Default) or an AMI id (ami- and 8 or 17 hex digits)")
  .transform((s): TargetSpec => (s.startsWith("ami-") ? { imageId: s } : s.startsWith("$") ? { version: s as "$Latest" | "$Default" } : { version: Number(s) }))
  .refine((t) => !("version" in t) || t.version !== 0, "Launch template versions start at 1");

/** What a provider's survey answers: the check's input (without the operator's options) and the launch versions. */
export interface ReplaceSurveyResult {
  check: Omit<ReplaceCheckInput, "options">;
  /** The launch version the group's instances start from now (AWS: the resolved version number; local: the release). */
  fromLaunch: string;
  /** The launch version the rollout points the group at; null when it is created at start (an AMI target). */
  toLaunch: string | null;
}
