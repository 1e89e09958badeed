/**
 * The `replace` strategy's Auto Scaling side on AWS (the provider port's ScalingGroups): the survey a
 * plan checks, the launch template version a rollout points the group at, and the three changes it
 * makes to the group (launch template version, desired capacity, terminate one instance).
 *
 * Every change reads the group first (one DescribeAutoScalingGroups) and is skipped when the group is
 * already as asked, so an engine that resumes after a crash can repeat any of them. Only groups that
 * feed a load balancer in scope (ROTOR_AWS_LOAD_BALANCERS) are changed.
 */
import { SetDesiredCapacityCommand, TerminateInstanceInAutoScalingGroupCommand, UpdateAutoScalingGroupCommand, type AutoScalingGroup } from "@aws-sdk/client-auto-scaling";
import { DescribeTargetGroupsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { z } from "zod";
import { targetSpecSchema, type ChosenLoadBalancer, type ReplaceSurveyResult, type TargetSpec } from "@/lib/rollout/replace-check";
import type { AutoScalingGroups } from "@/server/providers/aws/autoscaling";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { TARGET_GROUP_PREFIX } from "@/server/providers/aws/config";
import type { LbRef } from "@/server/providers/aws/reshape";
import { ProviderError, type ScalingGroupState, type ScalingGroups } from "@/server/providers/types";

/** The instances registered at one load balancer now (the provider reads them, scope checked). */
export type LbMembers = (lb: string) => Promise<{ ref: LbRef; ids: string[] }>;

export interface ScalingGroupsDeps {
  members: LbMembers;
  /** Rotor names in scope; null: every load balancer. */
  scope: readonly string[] | null;
}

/** Activities describe() returns: the newest page, enough for a rollout's timeline. */
const ACTIVITIES = 20;

// Auto Scaling group names: 1-255 characters, none of them a control character.
const groupName = z
  .string()
  .min(1, "a group name is required")
  .max(255, "an Auto Scaling group name has at most 255 characters")
  .regex(/^[^\u0000-\u001f\u007f]+$/, "an Auto Scaling group name has no control characters");
const versionNumber = z.string().regex(/^[1-9]\d{0,8}$/, "a launch template version number such as 3");
const desired = z.number().int("a desired capacity is a whole number").min(0, "a desired capacity cannot be negative").max(100_000, "a desired capacity of at most 100000");
const instanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, "an EC2 instance id such as i-0123456789abcdef0");

function valid<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ProviderError("INVALID_INPUT", `${what}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

function parseTarget(target: string): TargetSpec {
  return valid(targetSpecSchema, target, `target ${JSON.stringify(target).slice(0, 80)}`);
}

/** The target group's name in its ARN (…:targetgroup/NAME/ID). */
function targetGroupName(arn: string): string {
  return /:targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
}

/** The SDK error's name and message under a ProviderError (AwsCaller keeps the SDK error as the cause). */
function cause(err: unknown): { name: string; message: string } {
  const c = err instanceof Error ? (err.cause as { name?: string; message?: string } | undefined) : undefined;
  return { name: c?.name ?? "", message: c?.message ?? "" };
}

/** What AWS answers a terminate of an instance the group no longer has, or is already terminating. */
const ALREADY_GONE = /not found|no managed instance|not part of|already\b.*terminat|in (?:a |the )?terminat\w* state/i;

const GONE_STATES = /^(?:Terminating|Terminated)/;

export class AwsScalingGroups implements ScalingGroups {
  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
    private readonly asg: AutoScalingGroups,
    private readonly deps: ScalingGroupsDeps,
  ) {}

  private async chosen(lb: string, ref: LbRef): Promise<ChosenLoadBalancer> {
    if (ref.kind === "classic") return { kind: "classic", rotorName: lb, name: ref.awsName };
    const out = await this.caller.call(`DescribeTargetGroups ${ref.awsName}`, () => this.clients.elbv2.send(new DescribeTargetGroupsCommand({ Names: [ref.awsName] })), lb);
    const arn = out.TargetGroups?.[0]?.TargetGroupArn;
    if (!arn) throw new ProviderError("NOT_FOUND", `target group ${ref.awsName} not found`);
    return { kind: "target-group", rotorName: lb, name: ref.awsName, arn };
  }

  async survey(lb: string, target: string): Promise<ReplaceSurveyResult> {
    const spec = parseTarget(target);
    const { ref, ids } = await this.deps.members(lb);
    const chosen = await this.chosen(lb, ref);
    const s = await this.asg.survey(ids, spec, { activities: 0 });
    const source = s.group?.source;
    const fromLaunch = source?.kind === "launch-template" ? String(source.resolvedVersion ?? source.version) : "";
    return {
      check: { lb: chosen, lbInstanceIds: ids, groupOf: s.groupOf, group: s.group, target: s.target },
      fromLaunch,
      toLaunch: s.target.kind === "version" ? String(s.target.version) : null,
    };
  }

  async prepareTarget(lb: string, target: string): Promise<string> {
    const spec = parseTarget(target);
    const { ids } = await this.deps.members(lb);
    const s = await this.asg.survey(ids, spec, { activities: 0 });
    if (!s.group) throw new ProviderError("NOT_FOUND", `no single Auto Scaling group behind ${lb} to prepare ${target} for`);
    this.inScope(s.group.name, { LoadBalancerNames: s.group.loadBalancerNames, TargetGroupARNs: s.group.targetGroupArns });
    switch (s.target.kind) {
      case "missing":
        throw new ProviderError("NOT_FOUND", s.target.message);
      case "version":
        return String(s.target.version);
      case "image":
        return String(await this.asg.launchTemplates.versionWithImage(s.target.launchTemplateId, s.target.baseVersion, s.target.imageId));
      case "release":
        throw new ProviderError("INVALID_INPUT", `${target} is a release, not a launch template version or AMI id`);
    }
  }

  /** The load balancers the group feeds, by Rotor name. */
  private feeds(g: Pick<AutoScalingGroup, "LoadBalancerNames" | "TargetGroupARNs">): string[] {
    return [...(g.LoadBalancerNames ?? []), ...(g.TargetGroupARNs ?? []).map((arn) => `${TARGET_GROUP_PREFIX}${targetGroupName(arn)}`)];
  }

  /** Rotor changes a group only when it feeds a load balancer in scope. */
  private inScope(name: string, g: Pick<AutoScalingGroup, "LoadBalancerNames" | "TargetGroupARNs">): void {
    const scope = this.deps.scope;
    if (!scope) return;
    const feeds = this.feeds(g);
    if (feeds.some((lb) => scope.includes(lb))) return;
    throw new ProviderError(
      "NOT_FOUND",
      `Auto Scaling group ${name} feeds no load balancer in ROTOR_AWS_LOAD_BALANCERS (it feeds ${feeds.join(", ") || "none"}): Rotor changes only groups behind a load balancer it manages`,
    );
  }

  /** The group read now, in scope, or a ProviderError saying why not. */
  private async group(name: string): Promise<AutoScalingGroup> {
    const g = await this.asg.group(name);
    if (!g) throw new ProviderError("NOT_FOUND", `Auto Scaling group ${name} not found`);
    this.inScope(name, g);
    return g;
  }

  async describe(name: string): Promise<ScalingGroupState> {
    const checked = valid(groupName, name, "group");
    const g = await this.group(checked);
    const activities = await this.asg.activities(checked, ACTIVITIES);
    return {
      name: checked,
      min: g.MinSize ?? 0,
      desired: g.DesiredCapacity ?? 0,
      max: g.MaxSize ?? 0,
      launchVersion: await this.groupLaunchVersion(g),
      // A new instance counts once in service at every load balancer in scope the group feeds.
      loadBalancers: this.feeds(g).filter((lb) => !this.deps.scope || this.deps.scope.includes(lb)),
      instances: (g.Instances ?? []).flatMap((i) =>
        i.InstanceId
          ? [
              {
                id: i.InstanceId,
                lifecycleState: i.LifecycleState ?? "Unknown",
                // A number is the version it launched from; "$Latest"/"$Default" would be what they mean now, not then.
                launchVersion: i.LaunchTemplate?.Version && versionNumber.safeParse(i.LaunchTemplate.Version).success ? i.LaunchTemplate.Version : null,
                ...(i.AvailabilityZone ? { zone: i.AvailabilityZone } : {}),
              },
            ]
          : [],
      ),
      activities: activities
        .map((a) => ({
          id: a.id,
          status: a.status,
          description: a.description.replace(/\s+/g, " ").trim(),
          startedAt: a.startTime?.getTime() ?? null,
          endedAt: a.endTime?.getTime() ?? null,
        }))
        .sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0)),
    };
  }

  /** The version new instances start from: the group's, resolved to a number when it names $Latest or $Default. */
  private async groupLaunchVersion(g: AutoScalingGroup): Promise<string> {
    const t = g.LaunchTemplate;
    if (!t?.LaunchTemplateId) return t?.Version ?? g.LaunchConfigurationName ?? "";
    // AWS treats an omitted version as $Default.
    const named = t.Version ?? "$Default";
    if (versionNumber.safeParse(named).success) return named;
    const resolved = await this.asg.launchTemplates.version(t.LaunchTemplateId, named);
    if (!resolved) throw new ProviderError("NOT_FOUND", `launch template ${t.LaunchTemplateName ?? t.LaunchTemplateId} of ${g.AutoScalingGroupName ?? "the group"} has no ${named} version`);
    return String(resolved.version);
  }

  async setLaunchVersion(name: string, version: string): Promise<void> {
    const checked = valid(groupName, name, "group");
    const v = valid(versionNumber, version, "launch version");
    const g = await this.group(checked);
    const t = g.LaunchTemplate;
    if (!t?.LaunchTemplateId) throw new ProviderError("INVALID_INPUT", `${checked} does not launch from a single launch template, so Rotor cannot point it at version ${v}`);
    if (t.Version === v) return;
    await this.caller.call(`UpdateAutoScalingGroup ${checked} launch template ${t.LaunchTemplateId} version ${v}`, () =>
      this.clients.autoscaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: checked, LaunchTemplate: { LaunchTemplateId: t.LaunchTemplateId, Version: v } })),
    );
  }

  async setDesiredCapacity(name: string, capacity: number): Promise<void> {
    const checked = valid(groupName, name, "group");
    const n = valid(desired, capacity, "desired capacity");
    const g = await this.group(checked);
    if (g.DesiredCapacity === n) return;
    const [min, max] = [g.MinSize ?? 0, g.MaxSize ?? 0];
    // AWS refuses this too; saying it here names the group's bounds, and some emulators do not check.
    if (n < min || n > max) throw new ProviderError("INVALID_INPUT", `desired capacity ${n} is outside ${checked}'s bounds (min ${min}, max ${max})`);
    await this.caller.call(`SetDesiredCapacity ${checked} ${n}`, () =>
      this.clients.autoscaling.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: checked, DesiredCapacity: n, HonorCooldown: false })),
    );
  }

  async terminate(name: string, id: string, decrementDesired: boolean): Promise<void> {
    const checked = valid(groupName, name, "group");
    const instance = valid(instanceId, id, "instance");
    const g = await this.group(checked);
    const member = (g.Instances ?? []).find((i) => i.InstanceId === instance);
    // Gone or going already (an earlier attempt, or the group itself): nothing to do, nothing to decrement.
    if (!member || GONE_STATES.test(member.LifecycleState ?? "")) return;
    if (decrementDesired && (g.DesiredCapacity ?? 0) - 1 < (g.MinSize ?? 0)) {
      throw new ProviderError(
        "INVALID_INPUT",
        `terminating ${instance} with a decrement would take ${checked} below its min of ${g.MinSize ?? 0} (desired ${g.DesiredCapacity ?? 0}): terminate without decrementing, or lower min`,
      );
    }
    try {
      await this.caller.call(`TerminateInstanceInAutoScalingGroup ${checked} ${instance}${decrementDesired ? " (decrement desired)" : ""}`, () =>
        this.clients.autoscaling.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instance, ShouldDecrementDesiredCapacity: decrementDesired })),
      );
    } catch (err) {
      // Between the read and the call the instance left the group or began terminating: the goal is met.
      const c = cause(err);
      if (err instanceof ProviderError && c.name === "ValidationError" && ALREADY_GONE.test(c.message)) return;
      throw err;
    }
  }
}
