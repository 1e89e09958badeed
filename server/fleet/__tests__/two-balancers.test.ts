/**
 * Two balancers sharing instances: `local` in front of 4 instances, `local-internal` in front of the
 * first 2. Each keeps its own registrations; and under keep-alive load through both, a per-batch
 * procedure that takes an instance out of `local` only drops requests on `local-internal`, while the
 * one that takes it out of every balancer it serves (and waits at each) drops none. Real processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ProviderError } from "@/server/providers/types";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import { LOCAL_INTERNAL_LB_NAME, LOCAL_LB_NAME, type FleetTrafficStats } from "../protocol";
import { instance, rollBatch, trafficDiff, waitFor } from "./procedure";

const RPS = 240;
const BOTH = [LOCAL_LB_NAME, LOCAL_INTERNAL_LB_NAME];
let fleet: LocalFleetHandle;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-two-lbs-"));
  // Half the load through each balancer; a few slow requests so that drains have something to wait for.
  fleet = await startLocalFleet({ instances: 4, internalInstances: 2, internalShare: 0.5, slowFraction: 0.1, dataDir });
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function inServiceEverywhere(): Promise<void> {
  await waitFor("every instance in service at both balancers", async () => {
    const all = (await Promise.all(BOTH.map((lb) => fleet.provider.describeInstances(lb)))).flat();
    return all.every((i) => i.state === "in-service");
  });
}

/**
 * Runs `step` under bounded load through both balancers (the generator stops by itself after 30 s at
 * most; it is stopped as soon as the step is done and a second of load came after it), and answers
 * what each balancer's traffic went through, once every request has completed.
 */
async function underLoad(step: () => Promise<void>) {
  await inServiceEverywhere();
  const before = await fleet.control.traffic();
  await fleet.control.setTraffic({ enabled: true, rps: RPS, forMs: 30_000 });
  const moreRequests = (from: FleetTrafficStats, n: number) =>
    waitFor(`${n} more requests`, async () => {
      const t = await fleet.control.traffic();
      return t.requests - from.requests >= n ? t : undefined;
    }, 30_000, 100);
  await moreRequests(before, RPS);
  await step();
  await moreRequests(await fleet.control.traffic(), RPS);
  await fleet.control.setTraffic({ enabled: false });
  const after = await waitFor("every request completed", async () => {
    const t = await fleet.control.traffic();
    return t.inFlight === 0 ? t : undefined;
  }, 30_000, 100);
  const by = (lb: string) => trafficDiff(before.loadBalancers[lb]!, after.loadBalancers[lb]!);
  return { local: by(LOCAL_LB_NAME), internal: by(LOCAL_INTERNAL_LB_NAME), failures: JSON.stringify(after.recentFailures) };
}

describe("two local balancers sharing instances", () => {
  it("lists both; each keeps its own registrations, and says where else an instance is registered", async () => {
    const p = fleet.provider;
    expect((await p.listLoadBalancers()).map((lb) => lb.name)).toEqual(BOTH);
    expect((await p.describeInstances(LOCAL_LB_NAME)).map((i) => [i.id, i.alsoIn])).toEqual([
      ["i-local-1", [LOCAL_INTERNAL_LB_NAME]],
      ["i-local-2", [LOCAL_INTERNAL_LB_NAME]],
      ["i-local-3", []],
      ["i-local-4", []],
    ]);
    expect((await p.describeInstances(LOCAL_INTERNAL_LB_NAME)).map((i) => [i.id, i.alsoIn])).toEqual([
      ["i-local-1", [LOCAL_LB_NAME]],
      ["i-local-2", [LOCAL_LB_NAME]],
    ]);
    expect(await p.memberships(["i-local-1", "i-local-3", "i-nowhere"])).toEqual({ "i-local-1": BOTH, "i-local-3": [LOCAL_LB_NAME], "i-nowhere": [] });

    await p.deregister(LOCAL_LB_NAME, ["i-local-1"]);
    try {
      await waitFor("i-local-1 out of local", async () => (await instance(p, LOCAL_LB_NAME, "i-local-1")).state === "out-of-service");
      expect((await instance(p, LOCAL_INTERNAL_LB_NAME, "i-local-1")).state).toBe("in-service");
      expect((await instance(p, LOCAL_INTERNAL_LB_NAME, "i-local-1")).alsoIn).toEqual([]);
      expect(await p.memberships(["i-local-1"])).toEqual({ "i-local-1": [LOCAL_INTERNAL_LB_NAME] });
    } finally {
      await p.register(LOCAL_LB_NAME, ["i-local-1"]);
    }
    await p.deregister(LOCAL_INTERNAL_LB_NAME, ["i-local-2"]);
    try {
      await waitFor("i-local-2 out of local-internal", async () => (await instance(p, LOCAL_INTERNAL_LB_NAME, "i-local-2")).state === "out-of-service");
      expect((await instance(p, LOCAL_LB_NAME, "i-local-2")).state).toBe("in-service");
    } finally {
      await p.register(LOCAL_INTERNAL_LB_NAME, ["i-local-2"]);
    }
    await inServiceEverywhere();

    // An instance that is not behind a balancer, and a balancer that does not exist, change nothing.
    const refused = await p.deregister(LOCAL_INTERNAL_LB_NAME, ["i-local-3"]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    expect((refused as ProviderError).message).toContain("not behind local-internal");
    expect(((await p.drainTimeoutMs("prod").catch((e: unknown) => e)) as ProviderError).code).toBe("NOT_FOUND");
    expect((await instance(p, LOCAL_LB_NAME, "i-local-3")).state).toBe("in-service");
  }, 60_000);

  it("sends each balancer its share of a bounded load, which stops by itself", async () => {
    const before = await fleet.control.traffic();
    expect((await fleet.control.setTraffic({ enabled: true, rps: 100, forMs: 1_000 })).enabled).toBe(true);
    const after = await waitFor("the generator stopped by itself", async () => {
      const t = await fleet.control.traffic();
      return !t.enabled && t.inFlight === 0 ? t : undefined;
    }, 20_000, 100);
    const local = trafficDiff(before.loadBalancers[LOCAL_LB_NAME]!, after.loadBalancers[LOCAL_LB_NAME]!);
    const internal = trafficDiff(before.loadBalancers[LOCAL_INTERNAL_LB_NAME]!, after.loadBalancers[LOCAL_INTERNAL_LB_NAME]!);
    // Half each, exactly (the interleaving is fixed), and the totals are their sum.
    expect(Math.abs(local.requests - internal.requests)).toBeLessThanOrEqual(1);
    expect(local.requests + internal.requests).toBe(after.requests - before.requests);
    expect(local.failed + internal.failed).toBe(0);
    expect(after.loadBalancers[LOCAL_INTERNAL_LB_NAME]).toMatchObject({ targetRps: 50 });
  }, 60_000);

  it("a batch taken out of `local` only drops requests on `local-internal`; taken out of both, none", async () => {
    const p = fleet.provider;
    // Control: the procedure as if `local` were the only balancer, on an instance both serve.
    const naive = await underLoad(() => rollBatch(p, [LOCAL_LB_NAME], ["i-local-1"], "2.0.0"));
    // The right one: out of every balancer it serves, drained at each, back in at each.
    const proper = await underLoad(async () => {
      for (const id of ["i-local-1", "i-local-2"]) await rollBatch(p, BOTH, [id], "3.0.0");
    });
    console.info(`two balancers under ${RPS} req/s:\n  only local: local ${JSON.stringify(naive.local)}, internal ${JSON.stringify(naive.internal)}\n  both: local ${JSON.stringify(proper.local)}, internal ${JSON.stringify(proper.internal)}`);

    expect(naive.local.requests).toBeGreaterThan(RPS / 2);
    expect(naive.internal.requests).toBeGreaterThan(RPS / 2);
    expect(naive.local.failed, naive.failures).toBe(0);
    expect(naive.internal.failed).toBeGreaterThan(0);

    expect(proper.local.requests).toBeGreaterThan(RPS / 2);
    expect(proper.internal.requests).toBeGreaterThan(RPS / 2);
    expect(proper.local.failed, proper.failures).toBe(0);
    expect(proper.internal.failed, proper.failures).toBe(0);
    for (const lb of BOTH) expect((await p.describeInstances(lb)).filter((i) => i.id !== "i-local-3" && i.id !== "i-local-4").map((i) => [i.state, i.version])).toEqual([["in-service", "3.0.0"], ["in-service", "3.0.0"]]);
    // The provider's per-balancer counters are the generator's.
    const internal = await p.trafficStats(LOCAL_INTERNAL_LB_NAME);
    expect(internal?.requests).toBe((await fleet.control.traffic()).loadBalancers[LOCAL_INTERNAL_LB_NAME]?.requests);
  }, 120_000);
});
