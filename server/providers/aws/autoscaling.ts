/**
 * Reads of the Auto Scaling group behind a load balancer's instances, for the `replace` strategy's
 * plan and readiness check (lib/rollout/replace-check.ts takes what this returns as data). Nothing
 * here changes the group; every read is fresh (a plan must see the group as it is now).
 *
 * Calls: DescribeAutoScalingInstances (≤ 50 ids per call, AWS's limit), DescribeAutoScalingGroups
 * (one name), DescribeLifecycleHooks, DescribeScalingActivities (one bounded page), and through
 * launch-templates.ts DescribeLaunchTemplateVersions and DescribeImages.
 */
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DescribeScalingActivitiesCommand,
  type AutoScalingGroup,
  type DescribeAutoScalingInstancesCommandOutput,
} from "@aws-sdk/client-auto-scaling";
import type { AutoScalingGroupView, GroupLaunchSource, LaunchTarget, LifecycleHook, ReplaceCheckInput, TargetSpec } from "@/lib/rollout/replace-check";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { LaunchTemplates } from "@/server/providers/aws/launch-templates";

/** AWS's limit on InstanceIds per DescribeAutoScalingInstances call. */
const INSTANCES_PER_CALL = 50;
const MAX_ACTIVITIES = 100;

export interface ScalingActivity {
  id: string;
  /** Successful | InProgress | Failed | Cancelled | WaitingFor… */
  status: string;
  description: string;
  cause: string;
  startTime?: Date;
  endTime?: Date;
  progress?: number;
}

/** Everything the readiness check needs, read once (lbInstanceIds is the caller's, from the load balancer). */
export type ReplaceSurvey = Omit<ReplaceCheckInput, "options" | "lb" | "lbInstanceIds"> & { activities: ScalingActivity[] };

function launchSource(g: AutoScalingGroup): GroupLaunchSource {
  if (g.MixedInstancesPolicy) {
    const spec = g.MixedInstancesPolicy.LaunchTemplate?.LaunchTemplateSpecification;
    return { kind: "mixed-instances", id: spec?.LaunchTemplateId, name: spec?.LaunchTemplateName, version: spec?.Version };
  }
  if (g.LaunchTemplate) {
    const t = g.LaunchTemplate;
    // AWS treats an omitted version as $Default.
    return { kind: "launch-template", id: t.LaunchTemplateId ?? "", name: t.LaunchTemplateName ?? t.LaunchTemplateId ?? "", version: t.Version ?? "$Default" };
  }
  if (g.LaunchConfigurationName) return { kind: "launch-configuration", name: g.LaunchConfigurationName };
  return { kind: "none" };
}

function groupView(g: AutoScalingGroup, hooks: LifecycleHook[]): AutoScalingGroupView {
  return {
    name: g.AutoScalingGroupName ?? "",
    arn: g.AutoScalingGroupARN,
    min: g.MinSize ?? 0,
    desired: g.DesiredCapacity ?? 0,
    max: g.MaxSize ?? 0,
    source: launchSource(g),
    instances: (g.Instances ?? [])
      .filter((i) => i.InstanceId)
      .map((i) => ({
        id: i.InstanceId as string,
        zone: i.AvailabilityZone,
        lifecycleState: i.LifecycleState ?? "Unknown",
        healthStatus: i.HealthStatus ?? "Unknown",
        protectedFromScaleIn: i.ProtectedFromScaleIn ?? false,
        ...(i.LaunchTemplate?.Version ? { launchTemplateVersion: i.LaunchTemplate.Version } : {}),
      })),
    suspended: (g.SuspendedProcesses ?? []).filter((p) => p.ProcessName).map((p) => ({ process: p.ProcessName as string, ...(p.SuspensionReason ? { reason: p.SuspensionReason } : {}) })),
    loadBalancerNames: g.LoadBalancerNames ?? [],
    targetGroupArns: g.TargetGroupARNs ?? [],
    lifecycleHooks: hooks,
  };
}

export class AutoScalingGroups {
  readonly launchTemplates: LaunchTemplates;

  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
  ) {
    this.launchTemplates = new LaunchTemplates(clients, caller);
  }

  /** The group of each id (null: in none), batched 50 ids per call. */
  async groupsOf(ids: readonly string[]): Promise<Record<string, string | null>> {
    const unique = [...new Set(ids)];
    const out: Record<string, string | null> = Object.fromEntries(unique.map((id) => [id, null]));
    for (let i = 0; i < unique.length; i += INSTANCES_PER_CALL) {
      const batch = unique.slice(i, i + INSTANCES_PER_CALL);
      let token: string | undefined;
      do {
        const page: DescribeAutoScalingInstancesCommandOutput = await this.caller.call(`DescribeAutoScalingInstances (${batch.length} ids)`, () =>
          this.clients.autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: batch, NextToken: token })),
        );
        for (const a of page.AutoScalingInstances ?? []) {
          if (a.InstanceId && a.AutoScalingGroupName && a.InstanceId in out) out[a.InstanceId] = a.AutoScalingGroupName;
        }
        token = page.NextToken;
      } while (token);
    }
    return out;
  }

  async lifecycleHooks(name: string): Promise<LifecycleHook[]> {
    const out = await this.caller.call(`DescribeLifecycleHooks ${name}`, () => this.clients.autoscaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: name })));
    return (out.LifecycleHooks ?? [])
      .filter((h) => h.LifecycleHookName)
      .map((h) => ({
        name: h.LifecycleHookName as string,
        transition: h.LifecycleTransition ?? "",
        ...(h.HeartbeatTimeout !== undefined ? { heartbeatTimeoutSeconds: h.HeartbeatTimeout } : {}),
        ...(h.DefaultResult ? { defaultResult: h.DefaultResult } : {}),
      }));
  }

  /** The group as Auto Scaling answers it (one DescribeAutoScalingGroups call); null when no group has this name. */
  async group(name: string): Promise<AutoScalingGroup | null> {
    const out = await this.caller.call(`DescribeAutoScalingGroups ${name}`, () =>
      this.clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })),
    );
    return out.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === name) ?? null;
  }

  /**
   * The group described with its lifecycle hooks, and the launch template version it names
   * resolved to a number ($Latest/$Default move); null when no group has this name.
   */
  async describe(name: string): Promise<AutoScalingGroupView | null> {
    const g = await this.group(name);
    if (!g) return null;
    const view = groupView(g, await this.lifecycleHooks(name));
    const source = view.source;
    if (source.kind === "launch-template" && source.id) {
      const resolved = await this.launchTemplates.version(source.id, source.version);
      if (resolved) view.source = { ...source, resolvedVersion: resolved.version };
    }
    return view;
  }

  /** The group's most recent scaling activities, newest first, at most `limit` (one call). */
  async activities(name: string, limit = 20): Promise<ScalingActivity[]> {
    const max = Math.max(1, Math.min(MAX_ACTIVITIES, Math.floor(limit)));
    const out = await this.caller.call(`DescribeScalingActivities ${name}`, () =>
      this.clients.autoscaling.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: name, MaxRecords: max })),
    );
    return (out.Activities ?? []).slice(0, max).map((a) => ({
      id: a.ActivityId ?? "",
      status: a.StatusCode ?? "",
      description: a.Description ?? "",
      cause: a.Cause ?? "",
      ...(a.StartTime ? { startTime: a.StartTime } : {}),
      ...(a.EndTime ? { endTime: a.EndTime } : {}),
      ...(a.Progress !== undefined ? { progress: a.Progress } : {}),
    }));
  }

  /**
   * Everything the readiness check needs about the instances behind one load balancer: the group
   * of each, the one group described (null if none, or if they are spread over several), the
   * operator's target resolved against its launch template, and its recent activities
   * (`activities: 0` skips that call).
   */
  async survey(lbInstanceIds: readonly string[], spec: TargetSpec, options: { activities?: number } = {}): Promise<ReplaceSurvey> {
    const groupOf = await this.groupsOf(lbInstanceIds);
    const names = new Set(Object.values(groupOf).filter((g): g is string => g !== null));
    const only = names.size === 1 ? [...names][0] : undefined;
    const group = only ? await this.describe(only) : null;
    let target: LaunchTarget;
    if (!group) target = { kind: "missing", message: "no Auto Scaling group to resolve the target against" };
    else if (group.source.kind !== "launch-template" || !group.source.id) target = { kind: "missing", message: `${group.name} does not launch from a launch template` };
    else target = await this.launchTemplates.resolveTarget(group.source.id, group.source.resolvedVersion, spec);
    const activities = group && options.activities !== 0 ? await this.activities(group.name, options.activities ?? 20) : [];
    return { groupOf, group, target, activities };
  }
}

