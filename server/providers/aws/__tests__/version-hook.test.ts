/**
 * Versions without tags, against moto: where an instance has no `rotor:version` tag, the provider asks
 * it with the `version` hook (SSM, in the background, one command of at most 50 instances at a time)
 * and shows the answer as `versionSource: "hook"`; the plan carries it, so a rollback knows where to go.
 * moto runs no SSM command: the SSM shim in front of it (server/testing/ssm-shim.ts) answers the
 * version hook's invocations with a simulated output.
 */
import { CreateTagsCommand, EC2Client } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { planRollout } from "@/lib/rollout/plan";
import type { FleetInstance } from "@/lib/rollout/types";
import { hookDocument, parseAwsConfig, type AwsProvider } from "@/server/providers/aws";
import { createEstate, motoProvider, type Estate } from "@/server/providers/aws/__tests__/fixture";
import type { InstanceView } from "@/server/providers/types";
import { startMoto, type MotoServer } from "@/server/testing/moto";

let moto: MotoServer;
let estate: Estate;

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
});

/**
 * The version hook's answers, simulated by the SSM shim in front of moto: each instance answers
 * `0.9.<its index>`. `sent` lists the ids of each version-hook command the shim forwarded to moto.
 */
function versionHookAnswers(ids: () => string[], durationMs = 0) {
  moto.ssm.hooks = (hook, id) => (hook === "version" ? { durationMs, stdout: `rotor-version=0.9.${ids().indexOf(id)}\n` } : {});
  return {
    get sent(): string[][] {
      return moto.ssm.sent.filter((c) => c.hook === "version").map((c) => c.ids);
    },
  };
}

async function until(provider: AwsProvider, lb: string, done: (views: InstanceView[]) => boolean): Promise<InstanceView[]> {
  for (let i = 0; i < 200; i++) {
    const views = await provider.describeInstances(lb);
    if (done(views)) return views;
    await new Promise((r) => setTimeout(r, 50));
  }
  const last = await provider.describeInstances(lb);
  throw new Error(`versions never arrived: ${JSON.stringify(last.map((v) => [v.id, v.version, v.versionSource]))} warnings: ${JSON.stringify(provider.warnings())}`);
}

describe("the version hook", () => {
  it("the Rotor-RunHook document allows it", () => {
    const doc = hookDocument(parseAwsConfig({})) as { parameters: { Hook: { allowedValues: string[] } } };
    expect(doc.parameters.Hook.allowedValues).toContain("version");
  });

  it("asks untagged instances once, shows their versions from the hook, and the plan carries them", async () => {
    estate = await createEstate(moto, { instances: 6 });
    const ec2 = new EC2Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    await ec2.send(new CreateTagsCommand({ Resources: [estate.ids[0]!], Tags: [{ Key: "rotor:version", Value: "1.0.0" }] }));
    ec2.destroy();
    const answers = versionHookAnswers(() => estate.ids);
    const { provider } = motoProvider(moto);

    const first = await provider.describeInstances("web");
    expect(first.find((v) => v.id === estate.ids[0])).toMatchObject({ version: "1.0.0", versionSource: "tag" });
    const views = await until(provider, "web", (vs) => vs.every((v) => v.version !== null));
    for (const [n, id] of estate.ids.entries()) {
      expect(views.find((v) => v.id === id)).toMatchObject(n === 0 ? { version: "1.0.0", versionSource: "tag" } : { version: `0.9.${n}`, versionSource: "hook" });
    }
    // One command, to the five untagged instances only; later refreshes use the cached answers.
    expect(answers.sent).toEqual([estate.ids.slice(1)]);
    for (let i = 0; i < 3; i++) await provider.describeInstances("web");
    expect(answers.sent).toHaveLength(1);

    const fleet: FleetInstance[] = views.map((v) => ({ id: v.id, zone: v.zone, state: v.state, version: v.version, ...(v.versionSource ? { versionSource: v.versionSource } : {}) }));
    const planned = planRollout(fleet, { version: "2.0.0", batchSize: { unit: "count", value: 2 } });
    if (!planned.ok) throw new Error(planned.error.message);
    // Every previous version is known (by the tag or the hook): nothing stands in a rollback's way.
    expect(planned.plan.instances.filter((p) => p.fromVersion === null)).toEqual([]);
    expect(planned.plan.instances.find((p) => p.id === estate.ids[1])).toMatchObject({ fromVersion: "0.9.1", versionSource: "hook" });
    await provider.close();
  }, 60_000);

  it("asks at most 50 instances per command and one command at a time, however often the fleet is read", async () => {
    estate = await createEstate(moto, { instances: 120 });
    const answers = versionHookAnswers(() => estate.ids, 1_500);
    const { provider } = motoProvider(moto);
    try {
      await Promise.all([provider.describeInstances("web"), provider.describeInstances("web")]);
      // The command goes out in the background: once it has, more reads while it runs send nothing.
      await expect.poll(() => answers.sent.length, { timeout: 20_000, interval: 25 }).toBe(1);
      for (let i = 0; i < 3; i++) await provider.describeInstances("web");
      expect(answers.sent.length).toBe(1);
      expect(answers.sent[0]).toHaveLength(50);
      const views = await until(provider, "web", (vs) => vs.every((v) => v.version !== null));
      expect(views.filter((v) => v.versionSource === "hook")).toHaveLength(120);
      expect(answers.sent.map((s) => s.length)).toEqual([50, 50, 20]);
      expect(new Set(answers.sent.flat()).size).toBe(120);
    } finally {
      await provider.close();
    }
  }, 60_000);

  it("asks again after Rotor deregisters an instance, and never when turned off", async () => {
    estate = await createEstate(moto, { instances: 2 });
    const answers = versionHookAnswers(() => estate.ids);
    const { provider } = motoProvider(moto);
    await until(provider, "web", (vs) => vs.every((v) => v.versionSource === "hook"));
    await provider.deregister("web", [estate.ids[0]!]);
    await provider.register("web", [estate.ids[0]!]);
    await until(provider, "web", (vs) => vs.every((v) => v.versionSource === "hook"));
    expect(answers.sent).toEqual([estate.ids, [estate.ids[0]]]);
    await provider.close();

    const before = answers.sent.length;
    const quiet = motoProvider(moto, { versionHook: false });
    const views = await quiet.provider.describeInstances("web");
    expect(views.every((v) => v.version === null && v.versionSource === undefined)).toBe(true);
    await quiet.provider.describeInstances("web");
    expect(answers.sent).toHaveLength(before);
    expect(quiet.calls.filter((c) => c.startsWith("ssm:"))).toEqual([]);
    await quiet.provider.close();
  });
});
