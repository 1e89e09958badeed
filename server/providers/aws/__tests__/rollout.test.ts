/**
 * A rollout driven at the provider level against moto: per batch of 2, deregister → drain → stop →
 * deploy → start → verify → register → wait in service, exactly the engine's per-instance procedure.
 * SSM commands are read back from moto (ListCommands) in order, with the version as a parameter;
 * at every observation at least minHealthy instances are in service. A rollback does the same in
 * reverse, back to the versions read from the fleet before the rollout.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { planRollout } from "@/lib/rollout/plan";
import type { HookName, PlannedBatch } from "@/lib/rollout/types";
import type { AwsProvider } from "@/server/providers/aws";
import { createEstate, listCommands, motoProvider } from "@/server/providers/aws/__tests__/fixture";
import { startMoto, type MotoServer } from "@/server/testing/moto";

const HOOKS: HookName[] = ["stop", "deploy", "start", "verify"];

let moto: MotoServer;

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  await createEstate(moto, { instances: 6, version: "1.0.0" });
});

interface Observer {
  observations: number;
  minSeen: number;
  observe(): Promise<void>;
}

function observer(provider: AwsProvider, lb: string, minHealthy: number): Observer {
  const o: Observer = {
    observations: 0,
    minSeen: Infinity,
    async observe() {
      const views = await provider.describeInstances(lb);
      const inService = views.filter((v) => v.state === "in-service").length;
      o.observations++;
      o.minSeen = Math.min(o.minSeen, inService);
      expect(inService, `in service at observation ${o.observations}`).toBeGreaterThanOrEqual(minHealthy);
    },
  };
  return o;
}

async function waitFor(provider: AwsProvider, lb: string, ids: string[], done: (state: string) => boolean, o: Observer): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await o.observe();
    const views = await provider.describeInstances(lb);
    if (ids.every((id) => done(views.find((v) => v.id === id)?.state ?? "missing"))) return;
    if (Date.now() > deadline) throw new Error(`instances ${ids.join(", ")} did not settle`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The per-instance procedure over a batch, observing the fleet after every step. */
async function runBatch(provider: AwsProvider, lb: string, ids: string[], version: string, o: Observer): Promise<void> {
  await provider.deregister(lb, ids);
  await waitFor(provider, lb, ids, (s) => s === "out-of-service", o);
  for (const hook of HOOKS) {
    const results = await provider.runHook(lb, ids, hook, { version }, { timeoutMs: 15_000 });
    expect(results.map((r) => [r.id, r.ok])).toEqual(ids.map((id) => [id, true]));
    await o.observe();
  }
  await provider.register(lb, ids);
  await waitFor(provider, lb, ids, (s) => s === "in-service", o);
}

function expectCommands(commands: Awaited<ReturnType<typeof listCommands>>, lb: string, batches: { ids: string[]; version: string }[]) {
  const expected = batches.flatMap((b) => HOOKS.map((hook) => ({ hook, version: b.version, comment: `rotor ${hook} ${lb}: ${b.ids.join(" ")}` })));
  const seen = commands.map((c) => ({ hook: c.Parameters?.Hook?.[0], version: c.Parameters?.Version?.[0], comment: c.Comment?.replace(/^(rotor \S+ \S+) [0-9a-f]{8}:/, "$1:") }));
  expect(seen).toEqual(expected);
  expect(commands.every((c) => c.DocumentName === "Rotor-RunHook")).toBe(true);
}

describe.each(["web", "tg_web-tg"])("a rollout in batches of 2 on %s, against moto", (lb) => {
  it("updates every batch in order, keeps minHealthy in service, and records the new version", async () => {
    const { provider } = motoProvider(moto);
    const fleet = await provider.describeInstances(lb);
    const planned = planRollout(
      fleet.map((v) => ({ id: v.id, zone: v.zone, state: v.state, version: v.version })),
      { version: "1.1.0", batchSize: { unit: "count", value: 2 } },
    );
    if (!planned.ok) throw new Error(planned.error.message);
    const { plan } = planned;
    expect(plan.minHealthy).toBe(4);
    expect(plan.batches).toHaveLength(3);
    // Each batch of 2 spans both zones.
    for (const b of plan.batches) expect(new Set(b.zones).size).toBe(2);

    const o = observer(provider, lb, plan.minHealthy);
    for (const batch of plan.batches) await runBatch(provider, lb, batch.instanceIds, plan.targetVersion, o);

    expectCommands(await listCommands(moto), lb, plan.batches.map((b: PlannedBatch) => ({ ids: b.instanceIds, version: "1.1.0" })));
    expect(o.observations).toBeGreaterThanOrEqual(plan.batches.length * 6);
    expect(o.minSeen).toBe(4);
    const after = await provider.describeInstances(lb);
    expect(after.every((v) => v.state === "in-service" && v.version === "1.1.0")).toBe(true);
    await provider.close();
  });

  it("rolls back newest batch first to the versions the fleet had before", async () => {
    const { provider } = motoProvider(moto);
    const fleet = await provider.describeInstances(lb);
    const planned = planRollout(
      fleet.map((v) => ({ id: v.id, zone: v.zone, state: v.state, version: v.version })),
      { version: "2.0.0-rc.1", batchSize: { unit: "count", value: 2 } },
    );
    if (!planned.ok) throw new Error(planned.error.message);
    const { plan } = planned;
    const o = observer(provider, lb, plan.minHealthy);
    // Two batches go out, then the operator rolls back.
    const touched = plan.batches.slice(0, 2);
    for (const batch of touched) await runBatch(provider, lb, batch.instanceIds, plan.targetVersion, o);
    const from = new Map(plan.instances.map((i) => [i.id, i.fromVersion]));
    const back = [...touched].reverse().map((b) => {
      const versions = new Set(b.instanceIds.map((id) => from.get(id)));
      expect(versions).toEqual(new Set(["1.0.0"]));
      return { ids: b.instanceIds, version: "1.0.0" };
    });
    const before = (await listCommands(moto)).length;
    for (const b of back) await runBatch(provider, lb, b.ids, b.version, o);

    const commands = await listCommands(moto);
    expectCommands(commands.slice(0, before), lb, touched.map((b) => ({ ids: b.instanceIds, version: "2.0.0-rc.1" })));
    expectCommands(commands.slice(before), lb, back);
    expect(o.minSeen).toBeGreaterThanOrEqual(plan.minHealthy);
    const after = await provider.describeInstances(lb);
    expect(after.every((v) => v.state === "in-service" && v.version === "1.0.0")).toBe(true);
    await provider.close();
  });
});
