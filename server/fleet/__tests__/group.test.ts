/**
 * The local Auto Scaling group on the real fleet: scale-out launches new instance processes (new ids) on
 * the launch version and puts them in service at `local`; a terminate without decrement brings a
 * replacement from the current launch version, with decrement the group shrinks; the terminated instance
 * drains first, so a terminate + replace cycle under keep-alive load drops nothing. Refusals change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import type { GroupView } from "../protocol";
import { trafficDiff, waitFor } from "./procedure";

let fleet: LocalFleetHandle;
let dataDir: string;
const RPS = 150;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-group-"));
  // i-local-1 and i-local-2 are also behind `local-internal`; the generated load all goes through `local`.
  fleet = await startLocalFleet({ instances: 3, internalInstances: 2, internalShare: 0, dataDir, env: { ROTOR_GROUP_MAX: "6" } });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const ids = (g: GroupView) => g.instances.map((i) => i.id);
const launches = (g: GroupView) => g.activities.filter((a) => a.kind === "launch");

/** Resolves with the group once `ok` holds for it. */
const groupWhere = (what: string, ok: (g: GroupView) => boolean, timeoutMs = 60_000) =>
  waitFor(what, async () => {
    const g = await fleet.control.group();
    return ok(g) ? g : undefined;
  }, timeoutMs, 100);

async function refusal(p: Promise<unknown>): Promise<string> {
  const r = await p.then(
    () => "accepted",
    (e: unknown) => String(e instanceof Error ? e.message : e),
  );
  return r;
}

/** What a refused request must leave as it was. */
async function snapshot() {
  const g = await fleet.control.group();
  return { desired: g.desiredCapacity, launchVersion: g.launchVersion, instances: g.instances.map((i) => [i.id, i.lifecycleState]), activities: g.activities.length };
}

describe("the local Auto Scaling group", () => {
  it("starts with the fleet's instances: min 1, desired 3, max from ROTOR_GROUP_MAX, launch version 1.0.0", async () => {
    const g = await fleet.control.group();
    expect({ min: g.minSize, desired: g.desiredCapacity, max: g.maxSize, launchVersion: g.launchVersion, lbs: g.loadBalancers }).toEqual({ min: 1, desired: 3, max: 6, launchVersion: "1.0.0", lbs: ["local", "local-internal"] });
    expect(g.instances.map((i) => [i.id, i.lifecycleState, i.launchVersion, i.version])).toEqual([
      ["i-local-1", "InService", "1.0.0", "1.0.0"],
      ["i-local-2", "InService", "1.0.0", "1.0.0"],
      ["i-local-3", "InService", "1.0.0", "1.0.0"],
    ]);
    expect(g.activities).toEqual([]);
  });

  it("refuses a desired capacity outside min..max, a bad launch version and unknown ids, changing nothing", async () => {
    const before = await snapshot();
    expect(await refusal(fleet.control.setDesiredCapacity(7))).toMatch(/400 desired capacity 7 is outside the group's bounds: min 1, max 6/);
    expect(await refusal(fleet.control.setDesiredCapacity(0))).toMatch(/400 desired capacity 0 is outside the group's bounds/);
    expect(await refusal(fleet.control.setLaunchVersion("--force"))).toMatch(/400 .*Version must start with a letter or digit/);
    expect(await refusal(fleet.control.terminateInGroup("i-local-99", false))).toMatch(/404 i-local-99 is not in the group local; it has i-local-1, i-local-2, i-local-3/);
    expect(await refusal(fleet.control.request("POST", "/group/terminate-instance", { instanceId: "i-local-1" }))).toMatch(/400 .*decrementDesired/);
    expect(await snapshot()).toEqual(before);
  });

  it("scales out from 3 to 5: two requests at once launch i-local-4 and i-local-5 once each, in service at both balancers", async () => {
    await Promise.all([fleet.control.setDesiredCapacity(5), fleet.control.setDesiredCapacity(5)]);
    const pending = await fleet.control.group();
    expect(pending.desiredCapacity).toBe(5);
    expect(ids(pending)).toEqual(["i-local-1", "i-local-2", "i-local-3", "i-local-4", "i-local-5"]);
    const g = await groupWhere("5 instances in service", (x) => x.instances.length === 5 && x.instances.every((i) => i.lifecycleState === "InService"));
    expect(g.instances.slice(3).map((i) => [i.id, i.launchVersion, i.version])).toEqual([
      ["i-local-4", "1.0.0", "1.0.0"],
      ["i-local-5", "1.0.0", "1.0.0"],
    ]);
    expect(launches(g).map((a) => [a.instanceId, a.status])).toEqual([
      ["i-local-5", "Successful"],
      ["i-local-4", "Successful"],
    ]);
    expect(launches(g)[0]?.cause).toContain("increasing the capacity from 3 to 5");
    const atLocal = await fleet.control.instances("local");
    expect(atLocal.filter((i) => ["i-local-4", "i-local-5"].includes(i.id)).map((i) => [i.id, i.state, i.version])).toEqual([
      ["i-local-4", "in-service", "1.0.0"],
      ["i-local-5", "in-service", "1.0.0"],
    ]);
    // The group feeds both balancers: what it launches joins local-internal too.
    expect((await fleet.control.instances("local-internal")).map((i) => i.id)).toEqual(["i-local-1", "i-local-2", "i-local-4", "i-local-5"]);
    const answered = new Set<string>();
    for (let n = 0; n < 20 && answered.size < 5; n++) answered.add((await fetch(`${fleet.lbUrl}/version`)).headers.get("x-rotor-instance") ?? "");
    expect([...answered].sort()).toEqual(["i-local-1", "i-local-2", "i-local-3", "i-local-4", "i-local-5"]);
  }, 90_000);

  it("terminating without decrement under load: drains i-local-1 from both balancers, i-local-6 replaces it on 2.0.0, 0 requests dropped", async () => {
    await fleet.control.setLaunchVersion("2.0.0");
    await fleet.control.setTraffic({ enabled: true, rps: RPS, slowFraction: 0.25, forMs: 90_000 });
    const more = (from: { requests: number }, n: number) =>
      waitFor(`${n} more requests`, async () => {
        const t = await fleet.control.traffic();
        return t.requests - from.requests >= n ? t : undefined;
      }, 30_000, 100);
    const t0 = await more(await fleet.control.traffic(), RPS);

    const activity = await fleet.control.terminateInGroup("i-local-1", false);
    expect([activity.kind, activity.instanceId, activity.status]).toEqual(["terminate", "i-local-1", "InProgress"]);
    expect(activity.cause).toContain("a replacement launches from 2.0.0");
    expect(await refusal(fleet.control.terminateInGroup("i-local-1", false))).toMatch(/409 i-local-1 is already terminating/);

    const g = await groupWhere("i-local-1 gone, i-local-6 in service", (x) => !ids(x).includes("i-local-1") && x.instances.find((i) => i.id === "i-local-6")?.lifecycleState === "InService");
    expect(g.desiredCapacity).toBe(5);
    expect(g.instances.map((i) => [i.id, i.launchVersion, i.version])).toEqual([
      ["i-local-2", "1.0.0", "1.0.0"],
      ["i-local-3", "1.0.0", "1.0.0"],
      ["i-local-4", "1.0.0", "1.0.0"],
      ["i-local-5", "1.0.0", "1.0.0"],
      ["i-local-6", "2.0.0", "2.0.0"],
    ]);
    expect(g.activities.filter((a) => a.instanceId === "i-local-1").map((a) => [a.kind, a.status])).toEqual([["terminate", "Successful"]]);
    expect(launches(g)).toHaveLength(3);
    expect((await fleet.control.instances("local")).map((i) => i.id)).toEqual(["i-local-2", "i-local-3", "i-local-4", "i-local-5", "i-local-6"]);
    expect((await fleet.control.instances("local-internal")).map((i) => i.id)).toEqual(["i-local-2", "i-local-4", "i-local-5", "i-local-6"]);
    expect(Object.keys(await fleet.control.memberships())).not.toContain("i-local-1");
    expect(await refusal(fleet.control.terminateInGroup("i-local-1", true))).toMatch(/409 i-local-1 was terminated at /);

    // Requests issued during the cycle finish within ~3 s (the slowest /slow): count them once more have come after.
    const t1 = await fleet.control.traffic();
    const t2 = await more(t1, RPS * 4);
    const cycle = trafficDiff(t0, t2);
    await fleet.control.setTraffic({ enabled: false });
    const took = (id: string, kind: string) => g.activities.filter((a) => a.instanceId === id && a.kind === kind).map((a) => (a.endedAt ?? NaN) - a.startedAt)[0];
    console.info(`group terminate + replace under ${RPS} req/s: terminate i-local-1 ${took("i-local-1", "terminate")} ms, launch i-local-6 ${took("i-local-6", "launch")} ms; ${JSON.stringify(cycle)}`);
    expect(cycle.requests).toBeGreaterThan(RPS * 4);
    expect(cycle.failed, JSON.stringify(t2.recentFailures)).toBe(0);
    expect(cycle.versions["2.0.0"] ?? 0).toBeGreaterThan(0);
  }, 120_000);

  it("terminating with decrement shrinks the group to its new desired capacity without a launch; scale-in takes the old launch version first", async () => {
    const before = launches(await fleet.control.group()).length;
    await fleet.control.terminateInGroup("i-local-2", true);
    const g = await groupWhere("i-local-2 gone", (x) => !ids(x).includes("i-local-2"));
    expect(g.desiredCapacity).toBe(4);
    expect(ids(g)).toEqual(["i-local-3", "i-local-4", "i-local-5", "i-local-6"]);
    expect(launches(g)).toHaveLength(before);

    await fleet.control.setDesiredCapacity(3);
    const shrunk = await groupWhere("3 instances", (x) => x.instances.length === 3);
    expect(ids(shrunk)).toEqual(["i-local-4", "i-local-5", "i-local-6"]);
    expect(launches(shrunk)).toHaveLength(before);
    expect((await fleet.control.instances("local")).map((i) => [i.id, i.state])).toEqual([
      ["i-local-4", "in-service"],
      ["i-local-5", "in-service"],
      ["i-local-6", "in-service"],
    ]);
  }, 90_000);

  it("a launch that fails (a broken release) is a Failed activity, leaves nothing behind and is retried; a good launch version heals the group", async () => {
    await fleet.control.setLaunchVersion("3.0.0-broken");
    await fleet.control.terminateInGroup("i-local-4", false);
    const failed = await groupWhere("a failed launch", (x) => !ids(x).includes("i-local-4") && launches(x).some((a) => a.status === "Failed"), 30_000);
    const first = launches(failed).find((a) => a.status === "Failed")!;
    expect(first.instanceId).toBe("i-local-7");
    expect(first.statusMessage).toMatch(/launching i-local-7 on 3\.0\.0-broken: deploy failed .*marked broken/);
    expect(failed.desiredCapacity).toBe(3);

    await fleet.control.setLaunchVersion("3.0.0");
    const healed = await groupWhere("3 in service, one on 3.0.0", (x) => x.instances.length === 3 && x.instances.every((i) => i.lifecycleState === "InService") && x.instances.some((i) => i.launchVersion === "3.0.0"));
    const fresh = healed.instances.find((i) => i.launchVersion === "3.0.0")!;
    expect(fresh.version).toBe("3.0.0");
    // Ids are never reused: the replacement comes after every failed attempt.
    const attempts = launches(healed).filter((a) => a.startedAt >= first.startedAt);
    expect(attempts.at(0)?.instanceId).toBe(fresh.id);
    expect(attempts.slice(1).every((a) => a.status === "Failed")).toBe(true);
    expect(Number(fresh.id.replace("i-local-", ""))).toBe(6 + attempts.length);
    // Nothing of the failed attempts is left in the balancer.
    expect((await fleet.control.instances("local")).map((i) => i.id)).toEqual(ids(healed));
  }, 90_000);
});
