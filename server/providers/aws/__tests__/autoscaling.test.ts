/**
 * The Auto Scaling group behind a load balancer's instances, read with the real SDK against moto, and
 * the `replace` readiness check on what was read: a launch template with 2 versions and a group of 6
 * attached to the Classic ELB `web` and the target group `api`. Each test changes the group the way
 * an operator would (SuspendProcesses, SetInstanceProtection, EnterStandby, a stray instance) and
 * puts it back.
 *
 * moto's quirks met here (and what the tests do about them):
 * - It launches a group's instances at once, InService and Healthy, and registers them in every
 *   attached load balancer; it never holds one in Pending:Wait for a lifecycle hook, so that state is
 *   edited into moto's real DescribeAutoScalingGroups answer (Inject).
 * - It places every instance of a group in the first subnet's zone, whatever VPCZoneIdentifier lists.
 * - It records no scaling activities (DescribeScalingActivities answers an empty list), so the
 *   reshaping of one is checked on an activity edited into moto's answer.
 * - DescribeAutoScalingInstances answers unknown instance ids with nothing, as AWS does.
 * - Its Classic ELB keeps the instances a group registered apart from those registered by hand:
 *   DeregisterInstancesFromLoadBalancer removes only the latter, so a group's instance cannot be taken
 *   out of a Classic ELB (the test that needs one out uses the target group, where deregistering
 *   works). And each group attached to a Classic ELB replaces the ELB's group-registered instances
 *   with its own, so a second group attached to `web` would push the first one's out; the tests
 *   attach no second group and register another group's instance by hand instead.
 */
import { CreateAutoScalingGroupCommand, DeleteAutoScalingGroupCommand, CreateLaunchConfigurationCommand, DeleteLifecycleHookCommand, EnterStandbyCommand, ExitStandbyCommand, PutLifecycleHookCommand, ResumeProcessesCommand, SetInstanceProtectionCommand, SuspendProcessesCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeSubnetsCommand, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { DeregisterInstancesFromLoadBalancerCommand, DescribeInstanceHealthCommand, RegisterInstancesWithLoadBalancerCommand } from "@aws-sdk/client-elastic-load-balancing";
import { DeregisterTargetsCommand, DescribeTargetHealthCommand, RegisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkReplace, type ChosenLoadBalancer, type ReplaceOptions, type TargetSpec } from "@/lib/rollout/replace-check";
import { parseAwsConfig } from "@/server/providers/aws";
import { AutoScalingGroups } from "@/server/providers/aws/autoscaling";
import { AwsCaller } from "@/server/providers/aws/calls";
import { createClients, destroyClients, type AwsClients } from "@/server/providers/aws/clients";
import { createEstate, injectInto, type Estate, type Inject } from "@/server/providers/aws/__tests__/fixture";
import { AMIS, startMoto, type MotoServer, type SeededGroup } from "@/server/testing/moto";
import { ProviderError } from "@/server/providers/types";

let moto: MotoServer;
let estate: Estate;
let group: SeededGroup;
let clients: AwsClients;
const opened: AwsClients[] = [];

function adapter(inject?: Inject): { groups: AutoScalingGroups; clients: AwsClients; calls: string[] } {
  const seen: string[] = [];
  const c = createClients(parseAwsConfig({ endpoint: moto.endpoint, region: moto.region }), { credentials: moto.credentials, onRequest: (s, op) => seen.push(`${s}:${op}`) });
  if (inject) injectInto(c, inject);
  opened.push(c);
  return { groups: new AutoScalingGroups(c, new AwsCaller()), clients: c, calls: seen };
}

beforeAll(async () => {
  moto = await startMoto();
  estate = await createEstate(moto, { instances: 6, classic: "web", targetGroup: "api", version: "1.0.0", group: true });
  if (!estate.group) throw new Error("no group seeded");
  group = estate.group;
  clients = adapter().clients;
}, 90_000);

afterAll(async () => {
  for (const c of opened) destroyClients(c);
  await moto?.stop();
}, 60_000);

const web: () => ChosenLoadBalancer = () => ({ kind: "classic", rotorName: "web", name: "web" });
const api: () => ChosenLoadBalancer = () => ({ kind: "target-group", rotorName: "tg_api", name: "api", arn: group.targetGroupArn });
const good: ReplaceOptions = { batchSize: 2, surge: 2 };

async function webIds(): Promise<string[]> {
  const out = await clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "web" }));
  return [...new Set((out.InstanceStates ?? []).map((s) => s.InstanceId ?? ""))].filter(Boolean);
}

async function apiIds(): Promise<string[]> {
  const out = await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group.targetGroupArn }));
  return [...new Set((out.TargetHealthDescriptions ?? []).map((d) => d.Target?.Id ?? ""))].filter(Boolean);
}

/** Survey what is behind `web` now and check it, as a plan would. */
async function check(spec: TargetSpec = { version: 2 }, options: ReplaceOptions = good, groups = adapter().groups, lb = web(), ids = webIds) {
  const lbInstanceIds = await ids();
  const survey = await groups.survey(lbInstanceIds, spec);
  return { survey, result: checkReplace({ lb, lbInstanceIds, groupOf: survey.groupOf, group: survey.group, target: survey.target, options }) };
}

const codes = (r: ReturnType<typeof checkReplace>) => r.refusals.map((x) => x.code);

describe("the Auto Scaling group behind a load balancer (moto)", () => {
  it("finds the group from the instance ids, 50 ids per call, and reads min/desired/max, versions and attachments", async () => {
    const { groups, calls: seen } = adapter();
    // 6 real ids and 54 that no group holds: two calls, the unknown ones in no group.
    const unknown = Array.from({ length: 54 }, (_, n) => `i-${(n + 1).toString(16).padStart(17, "0")}`);
    const of = await groups.groupsOf([...estate.ids, ...unknown]);
    expect(seen.filter((c) => c === "autoscaling:DescribeAutoScalingInstances")).toHaveLength(2);
    for (const id of estate.ids) expect(of[id]).toBe(group.name);
    for (const id of unknown) expect(of[id]).toBeNull();

    const g = await groups.describe(group.name);
    expect(g).toMatchObject({
      name: "web-asg",
      arn: group.arn,
      min: 4,
      desired: 6,
      max: 8,
      source: { kind: "launch-template", id: group.launchTemplateId, name: "web-lt", version: "1", resolvedVersion: 1 },
      suspended: [],
      loadBalancerNames: ["web"],
      targetGroupArns: [group.targetGroupArn],
      lifecycleHooks: [],
    });
    expect(g?.instances.map((i) => i.id).sort()).toEqual([...estate.ids].sort());
    expect(g?.instances.every((i) => i.lifecycleState === "InService" && i.healthStatus === "Healthy" && !i.protectedFromScaleIn && i.launchTemplateVersion === "1")).toBe(true);
    expect(await groups.describe("no-such-group")).toBeNull();
  });

  it("resolves the target: a version, $Latest, $Default, an AMI; and says when one does not exist", async () => {
    const lt = adapter().groups.launchTemplates;
    expect(await lt.resolveTarget(group.launchTemplateId, 1, { version: 2 })).toEqual({ kind: "version", launchTemplateId: group.launchTemplateId, version: 2, imageId: AMIS[1] });
    expect(await lt.resolveTarget(group.launchTemplateId, 1, { version: "$Latest" })).toMatchObject({ kind: "version", version: 2 });
    expect(await lt.resolveTarget(group.launchTemplateId, 1, { version: "$Default" })).toMatchObject({ kind: "version", version: 1, imageId: AMIS[0] });
    expect(await lt.resolveTarget(group.launchTemplateId, 1, { imageId: AMIS[1] })).toEqual({ kind: "image", launchTemplateId: group.launchTemplateId, imageId: AMIS[1], baseVersion: 1 });
    expect(await lt.resolveTarget(group.launchTemplateId, 1, { version: 9 })).toEqual({ kind: "missing", message: expect.stringContaining("launch template web-lt has no version 9") });
    expect(await lt.resolveTarget(group.launchTemplateId, 1, { imageId: "ami-0123456789abcdef0" })).toEqual({ kind: "missing", message: expect.stringContaining("AMI ami-0123456789abcdef0 does not exist") });
    expect(await lt.resolveTarget("lt-0123456789abcdef0", undefined, { version: 2 })).toEqual({ kind: "missing", message: "launch template lt-0123456789abcdef0 does not exist" });
  });

  it("passes a good replace behind the Classic ELB and behind the target group, with the capacity at each step", async () => {
    const { result } = await check();
    expect(result.refusals).toEqual([]);
    expect(result.preview).toMatchObject({ group: "web-asg", min: 4, desired: 6, max: 8, from: "web-lt version 1", to: `version 2 (${AMIS[1]})` });
    expect(result.preview?.steps.map((s) => [s.peakDesired, s.lowestInService, s.endDesired])).toEqual([
      [8, 6, 6],
      [8, 6, 6],
      [8, 6, 6],
    ]);
    expect((await check({ version: 2 }, good, adapter().groups, api(), apiIds)).result.ok).toBe(true);
    const byImage = (await check({ imageId: AMIS[1] }, { batchSize: 3, surge: 0 })).result;
    expect(byImage.ok).toBe(true);
    expect(byImage.preview?.to).toBe(`a new version from version 1 with ${AMIS[1]}`);
    expect(byImage.preview?.steps.map((s) => s.lowestInService)).toEqual([3, 3]);
  });

  it("refuses a launch template version or an AMI that does not exist, and a surge above max", async () => {
    const version = (await check({ version: 9 })).result;
    expect(codes(version)).toEqual(["TARGET_MISSING"]);
    expect(codes((await check({ imageId: "ami-0123456789abcdef0" })).result)).toEqual(["TARGET_MISSING"]);
    const surge = (await check({ version: 2 }, { batchSize: 3, surge: 3 })).result;
    expect(codes(surge)).toEqual(["SURGE_ABOVE_MAX"]);
    expect(surge.refusals[0]?.message).toContain("web-asg's max is 8: raise max to 9 or lower the surge to 2");
  });

  it("refuses a group with suspended Launch and ReplaceUnhealthy, naming each and how to resume it", async () => {
    await clients.autoscaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: group.name, ScalingProcesses: ["Launch", "ReplaceUnhealthy", "ScheduledActions"] }));
    try {
      const { result } = await check();
      expect(codes(result)).toEqual(["PROCESS_SUSPENDED", "PROCESS_SUSPENDED"]);
      expect(result.refusals[0]?.message).toContain("web-asg has its Launch process suspended");
      expect(result.refusals[0]?.message).toContain("--scaling-processes Launch");
      expect(result.refusals[1]?.message).toContain("ReplaceUnhealthy");
    } finally {
      await clients.autoscaling.send(new ResumeProcessesCommand({ AutoScalingGroupName: group.name }));
    }
    expect((await check()).result.ok).toBe(true);
  });

  it("refuses instances in Standby and instances protected from scale-in, listing them", async () => {
    const [kept, standing] = estate.ids;
    if (!kept || !standing) throw new Error("estate too small");
    await clients.autoscaling.send(new SetInstanceProtectionCommand({ AutoScalingGroupName: group.name, InstanceIds: [kept], ProtectedFromScaleIn: true }));
    await clients.autoscaling.send(new EnterStandbyCommand({ AutoScalingGroupName: group.name, InstanceIds: [standing], ShouldDecrementDesiredCapacity: true }));
    try {
      const { result } = await check();
      expect(codes(result)).toEqual(["STANDBY", "PROTECTED"]);
      expect(result.refusals.map((r) => r.ids)).toEqual([[standing], [kept]]);
    } finally {
      await clients.autoscaling.send(new ExitStandbyCommand({ AutoScalingGroupName: group.name, InstanceIds: [standing] }));
      await clients.autoscaling.send(new SetInstanceProtectionCommand({ AutoScalingGroupName: group.name, InstanceIds: [kept], ProtectedFromScaleIn: false }));
    }
    expect((await check()).result.ok).toBe(true);
  });

  it("refuses a group whose instances are not all behind the load balancer, and a load balancer with instances in no group", async () => {
    // On the target group: moto's Classic ELB cannot deregister a group's instance (see the header).
    const out = estate.ids[5];
    if (!out) throw new Error("estate too small");
    await clients.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: out }] }));
    let stray: string | undefined;
    try {
      const missing = (await check({ version: 2 }, good, adapter().groups, api(), apiIds)).result;
      expect(codes(missing)).toEqual(["GROUP_OUTSIDE_LB"]);
      expect(missing.refusals[0]?.ids).toEqual([out]);
      expect(missing.refusals[0]?.message).toContain("not behind tg_api");

      const subnet = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets?.[0]?.SubnetId;
      const run = await clients.ec2.send(new RunInstancesCommand({ ImageId: AMIS[0], MinCount: 1, MaxCount: 1, SubnetId: subnet }));
      stray = run.Instances?.[0]?.InstanceId;
      if (!stray) throw new Error("moto launched nothing");
      await clients.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: stray }, { Id: out }] }));
      const extra = (await check({ version: 2 }, good, adapter().groups, api(), apiIds)).result;
      expect(codes(extra)).toEqual(["OUTSIDE_GROUP"]);
      expect(extra.refusals[0]?.message).toContain(`in no Auto Scaling group (${stray})`);
    } finally {
      if (stray) await clients.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: stray }] }));
      await clients.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: out }] }));
      if (stray) await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [stray] }));
    }
    expect((await check({ version: 2 }, good, adapter().groups, api(), apiIds)).result.ok).toBe(true);
  });

  it("shows lifecycle hooks in the plan, and refuses an instance a hook holds in Pending:Wait", async () => {
    await clients.autoscaling.send(
      new PutLifecycleHookCommand({ AutoScalingGroupName: group.name, LifecycleHookName: "warm-up", LifecycleTransition: "autoscaling:EC2_INSTANCE_LAUNCHING", HeartbeatTimeout: 300, DefaultResult: "CONTINUE" }),
    );
    try {
      const shown = (await check()).result;
      expect(shown.ok).toBe(true);
      expect(shown.preview?.notes).toEqual(["lifecycle hook warm-up: each new instance waits until the hook completes, up to 300 s (then CONTINUE)"]);
      // moto completes every launch at once; a new instance held by the hook is edited into its answer.
      const held = adapter((op) => {
        if (op !== "DescribeAutoScalingGroups") return;
        return (output) => {
          const g = (output.AutoScalingGroups as { DesiredCapacity?: number; Instances?: object[] }[] | undefined)?.[0];
          if (!g) return;
          g.Instances = [...(g.Instances ?? []), { InstanceId: "i-0000000000000new1", LifecycleState: "Pending:Wait", HealthStatus: "Healthy", ProtectedFromScaleIn: false }];
          g.DesiredCapacity = (g.DesiredCapacity ?? 0) + 1;
        };
      });
      const r = (await check({ version: 2 }, { batchSize: 1, surge: 1 }, held.groups)).result;
      expect(codes(r)).toEqual(["WAITING_ON_HOOK"]);
      expect(r.refusals[0]?.message).toContain("i-0000000000000new1 Pending:Wait) [hooks: warm-up]");
    } finally {
      await clients.autoscaling.send(new DeleteLifecycleHookCommand({ AutoScalingGroupName: group.name, LifecycleHookName: "warm-up" }));
    }
  });

  it("refuses a group launching through a mixed instances policy or a launch configuration", async () => {
    const subnet = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets?.[0]?.SubnetId;
    await clients.autoscaling.send(new CreateLaunchConfigurationCommand({ LaunchConfigurationName: "old-lc", ImageId: AMIS[0], InstanceType: "t3.micro" }));
    await clients.autoscaling.send(new CreateAutoScalingGroupCommand({ AutoScalingGroupName: "lc-asg", LaunchConfigurationName: "old-lc", MinSize: 1, MaxSize: 2, DesiredCapacity: 1, VPCZoneIdentifier: subnet }));
    await clients.autoscaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: "mixed-asg",
        MixedInstancesPolicy: { LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: group.launchTemplateId, Version: "1" }, Overrides: [{ InstanceType: "t3.micro" }, { InstanceType: "t3.small" }] } },
        MinSize: 1,
        MaxSize: 2,
        DesiredCapacity: 1,
        VPCZoneIdentifier: subnet,
      }),
    );
    let lcInstance: string | undefined;
    try {
      const { groups } = adapter();
      for (const [name, source] of [
        ["lc-asg", { kind: "launch-configuration", name: "old-lc" }],
        ["mixed-asg", { kind: "mixed-instances", id: group.launchTemplateId, version: "1" }],
      ] as const) {
        const g = await groups.describe(name);
        expect(g?.source).toMatchObject(source);
        const lbInstanceIds = g?.instances.map((i) => i.id) ?? [];
        const survey = await groups.survey(lbInstanceIds, { version: 2 });
        const r = checkReplace({ lb: web(), lbInstanceIds, groupOf: survey.groupOf, group: survey.group, target: survey.target, options: good });
        expect(codes(r)).toContain("UNSUPPORTED_LAUNCH");
        expect(codes(r)).not.toContain("TARGET_MISSING");
      }
      // An instance of another group registered by hand behind `web`: two groups there, refused, naming each.
      lcInstance = (await groups.describe("lc-asg"))?.instances[0]?.id;
      if (!lcInstance) throw new Error("moto launched no instance for lc-asg");
      await clients.elb.send(new RegisterInstancesWithLoadBalancerCommand({ LoadBalancerName: "web", Instances: [{ InstanceId: lcInstance }] }));
      const spread = (await check()).result;
      expect(codes(spread)).toEqual(["SEVERAL_GROUPS"]);
      expect(spread.refusals[0]?.message).toContain("belong to 2 Auto Scaling groups: web-asg (6 instances), lc-asg (1 instance)");
    } finally {
      if (lcInstance) await clients.elb.send(new DeregisterInstancesFromLoadBalancerCommand({ LoadBalancerName: "web", Instances: [{ InstanceId: lcInstance }] }));
      for (const name of ["lc-asg", "mixed-asg"]) await clients.autoscaling.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: name, ForceDelete: true }));
    }
    expect((await check()).result.ok).toBe(true);
  });

  it("reads recent scaling activities, bounded, and names the permission AWS refuses", async () => {
    let asked: unknown;
    const { groups } = adapter((op, input) => {
      if (op === "DescribeAutoScalingInstances") throw Object.assign(new Error("User is not authorized to perform: autoscaling:DescribeAutoScalingInstances"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
      if (op !== "DescribeScalingActivities") return;
      asked = input;
      return (output) => {
        output.Activities = [{ ActivityId: "a-1", AutoScalingGroupName: group.name, StatusCode: "Successful", Description: "Launching a new EC2 instance: i-1", Cause: "a user request", StartTime: new Date(0), Progress: 100 }];
      };
    });
    expect(await groups.activities(group.name, 500)).toEqual([{ id: "a-1", status: "Successful", description: "Launching a new EC2 instance: i-1", cause: "a user request", startTime: new Date(0), progress: 100 }]);
    expect(asked).toMatchObject({ AutoScalingGroupName: group.name, MaxRecords: 100 });
    const denied = await groups.groupsOf(estate.ids).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(ProviderError);
    expect((denied as ProviderError).code).toBe("AUTH");
    expect((denied as ProviderError).message).toContain("autoscaling:DescribeAutoScalingInstances");
  });
});
