/**
 * The replace strategy end to end against moto: a launch template with versions 1 and 2 and an Auto
 * Scaling group of 6 (min 4, max 8) behind the Classic ELB `web` and the target group `api`, driven
 * by the real engine in its own process (ROTOR_PROVIDER=aws) through the shims in front of moto.
 * Each rollout must end with 6 instances launched from the new launch template version, none of the
 * old, every one in service in both `web` and `api`, and the group's desired capacity back at 6;
 * a rollback must point the group back and leave only instances launched from the old version.
 *
 * moto 5.2.1's quirks met here, and what the tests do about them:
 * - A group instance's LaunchTemplate.Version is always the template's default version (1), not the
 *   version it was launched from, and the engine waits for new instances by that version. The group
 *   shim (server/testing/group-shim.ts) records the version each instance was launched from and
 *   answers with it. The tests check that record independently of the shim: each instance's AMI, read
 *   from EC2 (not edited), is the image of the version it must have been launched from.
 * - A terminated instance stays registered (and `healthy`) in the group's target group; AWS
 *   deregisters it. The group shim deregisters it after the terminate, as AWS would.
 * - A Classic ELB ignores DeregisterInstancesFromLoadBalancer for an instance the group registered
 *   (it stays InService), so the engine's drain would never end. The group shim answers such an
 *   instance as moto answers for one not registered until it is registered again.
 * - SetDesiredCapacity and TerminateInstanceInAutoScalingGroup act at once: new instances are
 *   InService (and registered) in the same call, a terminated instance leaves the group at once. The
 *   waits are therefore short here; their length is the local fleet's benchmark's business.
 * - It ignores CreateLaunchTemplateVersion's SourceVersion: the version Rotor makes for an AMI holds
 *   only the image, which is all these tests read.
 * - An SSM hook (verify) is simulated by the SSM shim: it succeeds at once, with no output.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { DescribeInstanceHealthCommand } from "@aws-sdk/client-elastic-load-balancing";
import { DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LaunchInput } from "@/server/commands/launch";
import { startHeadlessEngine, TestControl, type HeadlessEngine } from "@/server/engine/__tests__/harness";
import type { AwsProvider } from "@/server/providers/aws";
import { createClients, destroyClients, type AwsClients } from "@/server/providers/aws/clients";
import { parseAwsConfig } from "@/server/providers/aws/config";
import { createEstate, motoProvider, type Estate } from "@/server/providers/aws/__tests__/fixture";
import { AMIS, rotorEnvFor, startMoto, type MotoServer, type SeededGroup } from "@/server/testing/moto";

let dir: string;
let moto: MotoServer;
let estate: Estate;
let group: SeededGroup;
let provider: AwsProvider;
let clients: AwsClients;
let engine: HeadlessEngine | null = null;
let t: TestControl;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-aws-replace-"));
  moto = await startMoto();
  estate = await createEstate(moto, { instances: 6, classic: "web", targetGroup: "api", version: "1.0.0", drainSeconds: 1, delaySeconds: 1, group: { min: 4, max: 8 } });
  if (!estate.group) throw new Error("no group seeded");
  group = estate.group;
  provider = motoProvider(moto, { loadBalancers: ["web", "tg_api"] }).provider;
  clients = createClients(parseAwsConfig({ endpoint: moto.endpoint, region: moto.region }), { credentials: moto.credentials });
  t = new TestControl(dir, provider);
  engine = await startHeadlessEngine({ dataDir: dir, controlUrl: "http://127.0.0.1:9", env: { ...rotorEnvFor(moto, { classic: "web", targetGroup: "tg_api" }), ROTOR_AWS_SSM_POLL_MS: "100" } });
}, 120_000);

afterAll(async () => {
  t?.close();
  await engine?.stop();
  await provider?.close();
  if (clients) destroyClients(clients);
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

const replace = (version: string, target: string, surge: number): Partial<LaunchInput> & { version: string } => ({
  lb: "web",
  version,
  plan: { version, batchSize: { unit: "count", value: 2 } },
  replace: { surge, target },
});

/** The group as AWS describes it (through the shims): its launch version, desired capacity, instances and the version each launched from. */
async function groupNow() {
  const g = (await clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group.name] }))).AutoScalingGroups?.[0];
  if (!g) throw new Error(`${group.name} is gone`);
  const instances = (g.Instances ?? []).map((i) => ({ id: i.InstanceId ?? "", state: i.LifecycleState, launchVersion: i.LaunchTemplate?.Version }));
  return { launchVersion: g.LaunchTemplate?.Version, desired: g.DesiredCapacity, instances, ids: instances.map((i) => i.id).sort() };
}

/** Each instance's AMI as EC2 reports it: moto's own answer, which no shim edits. */
async function imageOf(ids: string[]): Promise<Record<string, string | undefined>> {
  const out = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return Object.fromEntries((out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId ?? "", i.ImageId]));
}

/** The rollout's end state: 6 instances in the group from `launchVersion` (image `image`), none of `old`, in service in web and api. */
async function expectFleet(launchVersion: string, image: string, old: string[]) {
  const g = await groupNow();
  expect(g.launchVersion).toBe(launchVersion);
  expect(g.desired).toBe(6);
  expect(g.instances).toHaveLength(6);
  expect(g.instances.every((i) => i.state === "InService" && i.launchVersion === launchVersion)).toBe(true);
  expect(g.ids.filter((id) => old.includes(id))).toEqual([]);
  const images = await imageOf(g.ids);
  expect(g.ids.map((id) => images[id])).toEqual(g.ids.map(() => image));
  const m = await provider.memberships(g.ids);
  for (const id of g.ids) expect(m[id], id).toEqual(["tg_api", "web"]);
  const inService = async (lb: string) => (await provider.describeInstances(lb)).filter((v) => v.state === "in-service").map((v) => v.id).sort();
  expect(await inService("web")).toEqual(g.ids);
  expect(await inService("tg_api")).toEqual(g.ids);
  // And as AWS itself lists them: nothing else InService at web, nothing else healthy in api (a terminated instance is deregistered).
  const web = (await clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "web" }))).InstanceStates ?? [];
  expect(web.filter((x) => x.State === "InService").map((x) => x.InstanceId).sort()).toEqual(g.ids);
  const api = (await clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: group.targetGroupArn }))).TargetHealthDescriptions ?? [];
  expect(api.filter((x) => x.TargetHealth?.State === "healthy").map((x) => x.Target?.Id).sort()).toEqual(g.ids);
  return g;
}

describe("replace through an Auto Scaling group behind web and api (moto, the real engine)", () => {
  it("with a surge of 2: 6 instances launched from version 2, registered in web and api, desired back at 6", async () => {
    const before = await groupNow();
    expect(before).toMatchObject({ launchVersion: "1", desired: 6 });
    const id = await t.launch(replace("2.0.0", "2", 2));
    expect(t.state(id).plan.replace).toMatchObject({ group: group.name, min: 4, desired: 6, max: 8, fromLaunch: "1", toLaunch: "2", surge: 2 });
    expect(await t.approveUntilDone(id, 180_000)).toBe("succeeded");
    const s = t.state(id);
    expect(s.batches.map((b) => b.newIds?.length)).toEqual([2, 2, 2]);
    const after = await expectFleet("2", AMIS[1], before.ids);
    expect(s.batches.flatMap((b) => b.newIds ?? []).sort()).toEqual(after.ids);
  }, 240_000);

  it("without surge, to an AMI: Rotor makes version 3 for it, and the group replaces each batch from it; desired stays 6", async () => {
    const before = await groupNow();
    const id = await t.launch(replace("3.0.0", AMIS[0], 0));
    const plan = t.state(id).plan;
    expect(plan.replace).toMatchObject({ fromLaunch: "2", toLaunch: "3", surge: 0 });
    expect(plan.minHealthy).toBe(4);
    expect(await t.approveUntilDone(id, 180_000)).toBe("succeeded");
    expect(t.state(id).batches.map((b) => b.newIds?.length)).toEqual([2, 2, 2]);
    await expectFleet("3", AMIS[0], before.ids);
  }, 240_000);

  it("rollback after batch 1: the group points back at version 3, the new instances are replaced from it, desired 6", async () => {
    const before = await groupNow();
    const id = await t.launch(replace("4.0.0", "2", 1));
    await t.waitPhase(id, "awaiting-approval", 120_000);
    const launched = t.state(id).batches[0]?.newIds ?? [];
    expect(launched).toHaveLength(2);
    expect((await groupNow()).launchVersion).toBe("2");
    expect(t.operate(id, { type: "rollback" }).ok).toBe(true);
    await t.waitPhase(id, "rolled-back", 120_000);
    const s = t.state(id);
    expect(s.rollbackBatches.map((b) => b.instanceIds)).toEqual([[...launched].reverse()]);
    const after = await expectFleet("3", AMIS[0], launched);
    // Only batch 1's instances were replaced; the other 4 are the ones the rollout found.
    expect(after.ids.filter((x) => before.ids.includes(x))).toHaveLength(4);
  }, 240_000);
});
