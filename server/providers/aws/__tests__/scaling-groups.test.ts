/**
 * The AWS provider's ScalingGroups (the `replace` strategy's changes to an Auto Scaling group), with
 * the real SDK against moto: a launch template with 2 versions and a group of 6 (min 4, max 8)
 * attached to the Classic ELB `web` and the target group `api`. The tests run in order, as a rollout
 * would: survey and refusals first (nothing changes), then the new version, the surge, the terminates.
 *
 * moto's quirks met here (and what the tests do about them):
 * - Every instance of a group reports, as its launch template version, the template's *default*
 *   version (1 here), not the version it was launched from; EC2's aws:ec2launchtemplate:version tag
 *   says the same. The group shim in front of moto (server/testing/group-shim.ts) answers with the
 *   version it recorded at launch; these tests still check the version on each instance's AMI (EC2
 *   DescribeInstances, which no shim edits: the new version's image), and describe()'s reading of the
 *   instance version on an answer edited into the real one.
 * - SetDesiredCapacity and TerminateInstanceInAutoScalingGroup act at once: new instances are
 *   InService immediately, a terminated instance leaves the group in the same call (no Terminating
 *   state to observe), and the replacement for a terminate without decrement is already there.
 * - A terminated instance stays a (healthy) target of the group's target groups; the group shim
 *   deregisters it, as AWS does. The tests check the Classic ELB after a surge and do not count on
 *   the target group.
 * - It checks neither a desired capacity against the group's min/max nor a terminate with decrement
 *   against min; the provider checks both itself, and the tests check its refusal.
 * - CreateLaunchTemplateVersion ignores SourceVersion: the new version holds only the data sent (the
 *   image), not the source version's other settings as AWS copies them; the test checks the image and
 *   the description only.
 * - It ignores DescribeLaunchTemplateVersions' Filters and CreateLaunchTemplateVersion's ClientToken
 *   (a repeated create would make another version): the reuse test counts CreateLaunchTemplateVersion
 *   calls, so it holds by the provider's own lookup of the version it made.
 * - An error the test injects before a call (fixture's Inject) is thrown before the request counter
 *   sees it, so such calls are counted in the injection itself.
 * - It records no scaling activities; their reshaping is checked on activities edited into its answer.
 * - Its Classic ELB cannot deregister an instance a group registered (the group shim answers as if it
 *   had), so the stray instance (behind the load balancer, in no group) is registered in the target group.
 */
import { ResumeProcessesCommand, SuspendProcessesCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, DescribeLaunchTemplateVersionsCommand, DescribeSubnetsCommand, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { DescribeInstanceHealthCommand } from "@aws-sdk/client-elastic-load-balancing";
import { DeregisterTargetsCommand, RegisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkReplace, type ReplaceOptions } from "@/lib/rollout/replace-check";
import type { AwsProvider } from "@/server/providers/aws";
import { createClients, destroyClients, type AwsClients } from "@/server/providers/aws/clients";
import { parseAwsConfig } from "@/server/providers/aws/config";
import { imageVersionDescription } from "@/server/providers/aws/launch-templates";
import { createEstate, motoProvider, type Estate, type Inject } from "@/server/providers/aws/__tests__/fixture";
import { AMIS, startMoto, type MotoServer, type SeededGroup } from "@/server/testing/moto";
import { ProviderError, type ScalingGroups } from "@/server/providers/types";

let moto: MotoServer;
let estate: Estate;
let group: SeededGroup;
let clients: AwsClients;
const providers: AwsProvider[] = [];

const WRITES = new Set(["autoscaling:UpdateAutoScalingGroup", "autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup", "ec2:CreateLaunchTemplateVersion"]);

function open(inject?: Inject, loadBalancers: string[] = ["web", "tg_api"]): { groups: ScalingGroups; calls: string[] } {
  const { provider, calls } = motoProvider(moto, { loadBalancers }, inject);
  providers.push(provider);
  if (!provider.groups) throw new Error("the AWS provider has no groups");
  return { groups: provider.groups, calls };
}

const writes = (calls: string[]) => calls.filter((c) => WRITES.has(c));
const count = (calls: string[], op: string) => calls.filter((c) => c === op).length;
const good: ReplaceOptions = { batchSize: 2, surge: 2 };

async function check(groups: ScalingGroups, lb: string, target: string, options: ReplaceOptions = good) {
  const survey = await groups.survey(lb, target);
  return { survey, result: checkReplace({ ...survey.check, options }) };
}

const codes = (r: ReturnType<typeof checkReplace>) => r.refusals.map((x) => x.code);

async function imageOf(ids: string[]): Promise<Record<string, string | undefined>> {
  const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return Object.fromEntries((out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId ?? "", i.ImageId]));
}

async function versionCount(): Promise<number> {
  const out = await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: group.launchTemplateId, MaxResults: 200 }));
  return out.LaunchTemplateVersions?.length ?? 0;
}

async function webIds(): Promise<string[]> {
  const out = await clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "web" }));
  return (out.InstanceStates ?? []).map((s) => s.InstanceId ?? "");
}

beforeAll(async () => {
  moto = await startMoto();
  estate = await createEstate(moto, { instances: 6, classic: "web", targetGroup: "api", version: "1.0.0", group: true });
  if (!estate.group) throw new Error("no group seeded");
  group = estate.group;
  clients = createClients(parseAwsConfig({ endpoint: moto.endpoint, region: moto.region }), { credentials: moto.credentials });
}, 90_000);

afterAll(async () => {
  for (const p of providers) await p.close();
  if (clients) destroyClients(clients);
  await moto?.stop();
}, 60_000);

describe("AWS ScalingGroups against moto", () => {
  it("surveys the group behind the target group and the Classic ELB: the check passes, with the versions from and to", async () => {
    const { groups, calls } = open();
    const tg = await check(groups, "tg_api", "2");
    expect(tg.result.refusals).toEqual([]);
    expect(tg.survey).toMatchObject({ fromLaunch: "1", toLaunch: "2" });
    expect(tg.survey.check.lb).toEqual({ kind: "target-group", rotorName: "tg_api", name: "api", arn: group.targetGroupArn });
    expect([...tg.survey.check.lbInstanceIds].sort()).toEqual([...estate.ids].sort());
    expect(tg.result.preview).toMatchObject({ group: "web-asg", min: 4, desired: 6, max: 8 });

    const web = await check(groups, "web", "$Latest");
    expect(web.result.ok).toBe(true);
    expect(web.survey).toMatchObject({ fromLaunch: "1", toLaunch: "2", check: { lb: { kind: "classic", rotorName: "web", name: "web" } } });
    const byImage = await check(groups, "web", AMIS[1]);
    expect(byImage.result.ok).toBe(true);
    expect(byImage.survey.toLaunch).toBeNull();
    expect(byImage.survey.check.target).toEqual({ kind: "image", launchTemplateId: group.launchTemplateId, imageId: AMIS[1], baseVersion: 1 });
    expect(writes(calls)).toEqual([]);
  });

  it("refuses, before any change: a missing version, a missing AMI, a surge above max, a suspended Launch, an instance behind the load balancer in no group", async () => {
    const { groups, calls } = open();
    const version = (await check(groups, "tg_api", "9")).result;
    expect(codes(version)).toEqual(["TARGET_MISSING"]);
    expect(version.refusals[0]?.message).toContain("has no version 9");
    const ami = (await check(groups, "tg_api", "ami-0123456789abcdef0")).result;
    expect(codes(ami)).toEqual(["TARGET_MISSING"]);
    expect(ami.refusals[0]?.message).toContain("AMI ami-0123456789abcdef0 does not exist");
    await expect(groups.prepareTarget("tg_api", "9")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(groups.prepareTarget("tg_api", "ami-0123456789abcdef0")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(groups.survey("tg_api", "latest; rm -rf /")).rejects.toMatchObject({ code: "INVALID_INPUT" });

    const surge = (await check(groups, "tg_api", "2", { batchSize: 3, surge: 3 })).result;
    expect(codes(surge)).toEqual(["SURGE_ABOVE_MAX"]);

    await clients.autoscaling.send(new SuspendProcessesCommand({ AutoScalingGroupName: group.name, ScalingProcesses: ["Launch"] }));
    try {
      const suspended = (await check(groups, "tg_api", "2")).result;
      expect(codes(suspended)).toEqual(["PROCESS_SUSPENDED"]);
      expect(suspended.refusals[0]?.message).toContain("web-asg has its Launch process suspended");
    } finally {
      await clients.autoscaling.send(new ResumeProcessesCommand({ AutoScalingGroupName: group.name }));
    }

    const subnet = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets?.[0]?.SubnetId;
    const stray = (await clients.ec2.send(new RunInstancesCommand({ ImageId: AMIS[0], MinCount: 1, MaxCount: 1, SubnetId: subnet }))).Instances?.[0]?.InstanceId;
    if (!stray) throw new Error("moto launched nothing");
    await clients.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: stray }] }));
    try {
      const outside = (await check(groups, "tg_api", "2")).result;
      expect(codes(outside)).toEqual(["OUTSIDE_GROUP"]);
      expect(outside.refusals[0]?.ids).toEqual([stray]);
    } finally {
      await clients.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: group.targetGroupArn, Targets: [{ Id: stray }] }));
      await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [stray] }));
    }

    // Nothing was written, and the group is as it was.
    expect(writes(calls)).toEqual([]);
    expect(await versionCount()).toBe(2);
    expect(await groups.describe(group.name)).toMatchObject({ min: 4, desired: 6, max: 8, launchVersion: "1" });
    expect((await check(groups, "tg_api", "2")).result.ok).toBe(true);
  });

  it("makes one launch template version for an AMI, from the group's version, and reuses it when asked again", async () => {
    const { groups, calls } = open();
    expect(await versionCount()).toBe(2);
    const made = await groups.prepareTarget("tg_api", AMIS[1]);
    expect(made).toBe("3");
    expect(await groups.prepareTarget("tg_api", AMIS[1])).toBe("3");
    expect(count(calls, "ec2:CreateLaunchTemplateVersion")).toBe(1);
    expect(await versionCount()).toBe(3);
    const v3 = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: group.launchTemplateId, Versions: ["3"] }))).LaunchTemplateVersions?.[0];
    // Only the image is checked: moto does not copy the source version's other settings (see the header).
    expect(v3).toMatchObject({ VersionDescription: imageVersionDescription(1, AMIS[1]), LaunchTemplateData: { ImageId: AMIS[1] } });
    // A version target is only resolved: nothing is created.
    expect(await groups.prepareTarget("tg_api", "2")).toBe("2");
    expect(await groups.prepareTarget("web", "$Latest")).toBe("3");
    expect(count(calls, "ec2:CreateLaunchTemplateVersion")).toBe(1);
  });

  it("points the group at the new version once, and a surge of 2 launches 2 instances from it", async () => {
    const { groups, calls } = open();
    await groups.setLaunchVersion(group.name, "3");
    await groups.setLaunchVersion(group.name, "3");
    expect(count(calls, "autoscaling:UpdateAutoScalingGroup")).toBe(1);
    const before = await groups.describe(group.name);
    expect(before).toMatchObject({ desired: 6, launchVersion: "3" });
    const old = new Set(before.instances.map((i) => i.id));

    await groups.setDesiredCapacity(group.name, before.desired + 2);
    await groups.setDesiredCapacity(group.name, before.desired + 2);
    expect(count(calls, "autoscaling:SetDesiredCapacity")).toBe(1);
    const after = await groups.describe(group.name);
    expect(after).toMatchObject({ min: 4, desired: 8, max: 8, launchVersion: "3" });
    const fresh = after.instances.filter((i) => !old.has(i.id));
    expect(fresh).toHaveLength(2);
    expect(fresh.every((i) => i.lifecycleState === "InService")).toBe(true);
    // Launched from version 3: its AMI (moto reports every instance's version as the default one, see the header).
    const images = await imageOf(after.instances.map((i) => i.id));
    for (const i of after.instances) expect(images[i.id]).toBe(old.has(i.id) ? AMIS[0] : AMIS[1]);
    expect(await webIds()).toEqual(expect.arrayContaining(fresh.map((i) => i.id)));

    await expect(groups.setDesiredCapacity(group.name, 9)).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("outside web-asg's bounds (min 4, max 8)") });
    expect(count(calls, "autoscaling:SetDesiredCapacity")).toBe(1);
  });

  it("terminates with a decrement once, however often asked; without one, the group launches a replacement from the new version", async () => {
    const { groups, calls } = open();
    const start = await groups.describe(group.name);
    const images = await imageOf(start.instances.map((i) => i.id));
    const olds = start.instances.filter((i) => images[i.id] === AMIS[0]).map((i) => i.id);
    const [first, second] = olds;
    if (!first || !second) throw new Error("no old instances left");

    await groups.terminate(group.name, first, true);
    await groups.terminate(group.name, first, true);
    expect(count(calls, "autoscaling:TerminateInstanceInAutoScalingGroup")).toBe(1);
    const decremented = await groups.describe(group.name);
    expect(decremented.desired).toBe(start.desired - 1);
    expect(decremented.instances.map((i) => i.id)).not.toContain(first);
    expect(decremented.instances).toHaveLength(start.desired - 1);

    await groups.terminate(group.name, second, false);
    const replaced = await groups.describe(group.name);
    expect(replaced.desired).toBe(start.desired - 1);
    expect(replaced.instances.map((i) => i.id)).not.toContain(second);
    const added = replaced.instances.filter((i) => !decremented.instances.some((d) => d.id === i.id));
    expect(added).toHaveLength(1);
    expect((await imageOf(added.map((i) => i.id)))[added[0]?.id ?? ""]).toBe(AMIS[1]);
    expect(count(calls, "autoscaling:TerminateInstanceInAutoScalingGroup")).toBe(2);
  });

  it("takes AWS saying the instance is no longer in the group as done, and refuses a decrement below min before calling", async () => {
    const { groups: live } = open();
    const state = await live.describe(group.name);
    const victim = state.instances[0]?.id;
    if (!victim) throw new Error("empty group");
    // Another actor terminated it between our read and our call: AWS answers with a ValidationError.
    let refused = 0;
    const { groups } = open((op) => {
      if (op === "TerminateInstanceInAutoScalingGroup") {
        refused++;
        throw Object.assign(new Error(`Instance Id not found - No managed instance found for instance ID: ${victim}`), { name: "ValidationError", $metadata: { httpStatusCode: 400 } });
      }
    });
    await groups.terminate(group.name, victim, false);
    expect(refused).toBe(1);
    // Any other refusal is an error naming the call and the permission.
    const { groups: denied } = open((op) => {
      if (op === "TerminateInstanceInAutoScalingGroup") throw Object.assign(new Error("User is not authorized to perform: autoscaling:TerminateInstanceInAutoScalingGroup"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
    });
    const err = await denied.terminate(group.name, victim, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe("AUTH");
    expect((err as ProviderError).message).toContain("TerminateInstanceInAutoScalingGroup web-asg");
    expect((err as ProviderError).message).toContain("autoscaling:TerminateInstanceInAutoScalingGroup");

    // min 4: with desired at 4, a terminate with decrement is refused before any call.
    const { groups: low, calls: lowCalls } = open();
    await low.setDesiredCapacity(group.name, 4);
    const at4 = await low.describe(group.name);
    expect(at4.instances).toHaveLength(4);
    const id = at4.instances[0]?.id ?? "";
    await expect(low.terminate(group.name, id, true)).rejects.toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("below its min of 4") });
    expect(count(lowCalls, "autoscaling:TerminateInstanceInAutoScalingGroup")).toBe(0);
    await low.setDesiredCapacity(group.name, 6);
  });

  it("describes each instance's launch version as a number, never as $Latest, and activities newest first on one line", async () => {
    const { groups } = open((op) => {
      if (op === "DescribeAutoScalingGroups") {
        return (output) => {
          const g = (output.AutoScalingGroups as { Instances?: { LaunchTemplate?: { Version?: string } }[] }[] | undefined)?.[0];
          const [a, b] = g?.Instances ?? [];
          if (a) a.LaunchTemplate = { ...a.LaunchTemplate, Version: "3" };
          if (b) b.LaunchTemplate = { ...b.LaunchTemplate, Version: "$Latest" };
        };
      }
      if (op === "DescribeScalingActivities") {
        return (output) => {
          output.Activities = [
            { ActivityId: "a-old", AutoScalingGroupName: group.name, StatusCode: "Successful", Description: "Terminating EC2 instance: i-1", Cause: "c", StartTime: new Date(1_000), EndTime: new Date(2_000) },
            { ActivityId: "a-new", AutoScalingGroupName: group.name, StatusCode: "InProgress", Description: "Launching a new EC2 instance:\n i-2", Cause: "c", StartTime: new Date(5_000) },
          ];
        };
      }
    });
    const state = await groups.describe(group.name);
    expect(state.instances.slice(0, 2).map((i) => i.launchVersion)).toEqual(["3", null]);
    expect(state.activities).toEqual([
      { id: "a-new", status: "InProgress", description: "Launching a new EC2 instance: i-2", startedAt: 5_000, endedAt: null },
      { id: "a-old", status: "Successful", description: "Terminating EC2 instance: i-1", startedAt: 1_000, endedAt: 2_000 },
    ]);
  });

  it("changes no group outside the configured load balancers, and refuses malformed input before any call", async () => {
    const { groups, calls } = open(undefined, ["elsewhere"]);
    await expect(groups.describe(group.name)).rejects.toMatchObject({ code: "NOT_FOUND", message: expect.stringContaining("ROTOR_AWS_LOAD_BALANCERS") });
    await expect(groups.setDesiredCapacity(group.name, 7)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(groups.survey("tg_api", "2")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(writes(calls)).toEqual([]);

    const { groups: scoped, calls: none } = open();
    await expect(scoped.setLaunchVersion(group.name, "$Latest")).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(scoped.setDesiredCapacity(group.name, -1)).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(scoped.terminate(group.name, "i-nope", false)).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(scoped.describe("")).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(scoped.describe("no-such-group")).rejects.toMatchObject({ code: "NOT_FOUND", message: "Auto Scaling group no-such-group not found" });
    expect(none.filter((c) => c !== "autoscaling:DescribeAutoScalingGroups")).toEqual([]);
  });
});
