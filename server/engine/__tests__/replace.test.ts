/**
 * The replace strategy on the real local fleet: its Auto Scaling group launches new instance processes
 * (i-local-6, i-local-7, …) from the launch version's release and retires old ones, driven by the real
 * engine in its own process, under keep-alive load through both balancers. With surge, in service at
 * `local` never falls below the fleet's size; without, never below min healthy; rollback goes back
 * through the old launch version; an engine SIGKILLed while the group launches, and while it waits
 * for replacements, resumes without launching anything twice. Every request counted by the load
 * generator must succeed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LaunchInput } from "@/server/commands/launch";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import type { GroupView } from "@/server/fleet/protocol";
import { trafficDiff } from "@/server/fleet/__tests__/procedure";
import { startHeadlessEngine, TestControl, waitFor, type HeadlessEngine } from "./harness";

const RPS = 200;
let dir: string;
let fleet: LocalFleetHandle;
let engine: HeadlessEngine | null = null;
let t: TestControl;
const dataDir = () => path.join(dir, "engine");

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-replace-"));
  // 5 instances, the first 2 also behind local-internal; the group may grow to 7 (a surge of 2).
  fleet = await startLocalFleet({ instances: 5, internalInstances: 2, internalShare: 0.25, dataDir: path.join(dir, "fleet"), slowFraction: 0.05, drainTimeoutMs: 10_000, env: { ROTOR_GROUP_MAX: "7", ROTOR_GROUP_MIN: "2" } });
  t = new TestControl(dataDir(), fleet.provider);
  engine = await startHeadlessEngine({ dataDir: dataDir(), controlUrl: fleet.controlUrl });
}, 90_000);

afterAll(async () => {
  t?.close();
  await engine?.stop();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const groupIds = (g: GroupView) => g.instances.map((i) => i.id);

/**
 * Runs `body` under RPS keep-alive requests (bounded: the generator stops by itself after 3 minutes),
 * sampling how many instances `local` has in service every 100 ms; answers the traffic once every
 * request completed and the lowest count seen.
 */
async function underLoad(body: () => Promise<void>) {
  const before = await fleet.control.traffic();
  await fleet.control.setTraffic({ enabled: true, rps: RPS, forMs: 180_000 });
  let low = Infinity;
  let samples = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const views = await fleet.provider.describeInstances("local").catch(() => null);
      if (views) {
        low = Math.min(low, views.filter((v) => v.state === "in-service").length);
        samples++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await body();
  } finally {
    done = true;
    await sampler;
    await fleet.control.setTraffic({ enabled: false });
  }
  const after = await waitFor(async () => {
    const x = await fleet.control.traffic();
    return x.inFlight === 0 ? x : null;
  }, { timeoutMs: 30_000, what: "every request to complete" });
  const out = { traffic: trafficDiff(before, after), low, samples, failures: JSON.stringify(after.recentFailures ?? []) };
  console.log(`replace: ${expect.getState().currentTestName ?? ""}\n  ${JSON.stringify({ ...out.traffic, lowestInService: low, samples })}`);
  return out;
}

const replace = (version: string, surge: number, extra: Partial<LaunchInput> = {}): Partial<LaunchInput> & { version: string } => ({
  version,
  plan: { version, batchSize: { unit: "count", value: 2 } },
  replace: { surge, target: version },
  ...extra,
});

describe("replace through the local Auto Scaling group, under load", () => {
  it("with a surge of 2: in service never below 5, 5 new instances on the new version, none of the old, 0 failed", async () => {
    const before = await fleet.control.group();
    const run = await underLoad(async () => {
      const id = await t.launch(replace("2.0.0", 2));
      const s = t.state(id);
      expect(s.plan.replace).toMatchObject({ group: "local", desired: 5, max: 7, fromLaunch: "1.0.0", toLaunch: "2.0.0", surge: 2 });
      expect(s.plan.minHealthy).toBe(5);
      expect(await t.approveUntilDone(id, 180_000)).toBe("succeeded");
      // The timeline: Rotor's changes to the group, and the group's own activities (5 launches, 5 terminations), each once.
      const events = t.events(id);
      const changed = events.filter((e) => e.type === "group-changed").map((e) => e.payload);
      expect(changed[0]).toMatchObject({ group: "local", launchVersion: { from: "1.0.0", to: "2.0.0" } });
      expect(changed.filter((c) => c.terminated !== undefined)).toHaveLength(5);
      const activities = events.filter((e) => e.type === "group-activity").map((e) => String(e.payload.description));
      expect(activities.filter((a) => a.startsWith("Launching"))).toHaveLength(5);
      expect(activities.filter((a) => a.startsWith("Terminating"))).toHaveLength(5);
      expect(new Set(events.filter((e) => e.type === "group-activity").map((e) => e.payload.activity)).size).toBe(activities.length);
    });
    expect(run.traffic.requests).toBeGreaterThan(RPS * 5);
    expect(run.traffic.failed, run.failures).toBe(0);
    expect(run.samples).toBeGreaterThan(20);
    expect(run.low).toBeGreaterThanOrEqual(5);
    const g = await fleet.control.group();
    expect(g.desiredCapacity).toBe(5);
    expect(g.launchVersion).toBe("2.0.0");
    expect(g.instances).toHaveLength(5);
    expect(groupIds(g).filter((x) => groupIds(before).includes(x))).toEqual([]);
    expect(g.instances.every((i) => i.lifecycleState === "InService" && i.launchVersion === "2.0.0" && i.version === "2.0.0")).toBe(true);
    const local = await fleet.provider.describeInstances("local");
    expect(local.map((v) => v.id).sort()).toEqual(groupIds(g).sort());
    expect(local.every((v) => v.state === "in-service" && v.version === "2.0.0")).toBe(true);
    // Each batch launched exactly its surge: 6 launches for 5 instances would mean one launched twice.
    expect(g.activities.filter((a) => a.kind === "launch" && a.startedAt >= Date.now() - 600_000)).toHaveLength(5);
  }, 240_000);

  it("without surge: in service never below min healthy (3), the group replaces each batch, 0 failed", async () => {
    const run = await underLoad(async () => {
      const id = await t.launch(replace("3.0.0", 0));
      expect(t.state(id).plan.minHealthy).toBe(3);
      expect(await t.approveUntilDone(id, 180_000)).toBe("succeeded");
      const s = t.state(id);
      expect(s.batches.map((b) => b.newIds?.length)).toEqual([2, 2, 1]);
    });
    expect(run.traffic.failed, run.failures).toBe(0);
    expect(run.low).toBeGreaterThanOrEqual(3);
    const g = await fleet.control.group();
    expect(g.desiredCapacity).toBe(5);
    expect(g.instances.every((i) => i.launchVersion === "3.0.0" && i.version === "3.0.0")).toBe(true);
  }, 240_000);

  it("rollback after batch 1: the group goes back to the old launch version, the new instances are replaced newest first, 0 failed", async () => {
    const run = await underLoad(async () => {
      const id = await t.launch(replace("4.0.0", 1));
      await t.waitPhase(id, "awaiting-approval", 120_000);
      expect(t.state(id).batches[0]?.newIds).toHaveLength(2);
      const r = t.operate(id, { type: "rollback" });
      expect(r.ok).toBe(true);
      await t.waitPhase(id, "rolled-back", 120_000);
      const s = t.state(id);
      expect(s.plan.minHealthy).toBe(4);
      expect(s.rollbackBatches.map((b) => b.instanceIds)).toEqual([[...(s.batches[0]?.newIds ?? [])].reverse()]);
    });
    expect(run.traffic.failed, run.failures).toBe(0);
    // A surge of 1 for batches of 2: one below the fleet's size at the low point, forward and back.
    expect(run.low).toBeGreaterThanOrEqual(4);
    const g = await fleet.control.group();
    expect(g.launchVersion).toBe("3.0.0");
    expect(g.desiredCapacity).toBe(5);
    expect(g.instances.every((i) => i.launchVersion === "3.0.0" && i.version === "3.0.0")).toBe(true);
  }, 240_000);

  it("refuses before any change: a surge above the group's max, a bad release, a balancer the group does not wholly serve", async () => {
    const before = await fleet.control.group();
    const count = t.store.listRollouts().length;
    await expect(t.launch(replace("5.0.0", 3, { plan: { version: "5.0.0", batchSize: { unit: "count", value: 3 } } }))).rejects.toThrow(/REPLACE_REFUSED.*needs a max of at least 8/);
    await expect(t.launch(replace("5.0.0", 1, { replace: { surge: 1, target: "../etc" } }))).rejects.toThrow(/REPLACE_REFUSED.*not a release/);
    // One of the group's instances taken out of local-internal: the group no longer serves it as a whole.
    const [outside] = groupIds(before);
    await fleet.provider.deregister("local-internal", [outside!]);
    try {
      await waitFor(async () => !(await fleet.provider.describeInstances("local-internal")).some((v) => v.id === outside && v.state !== "out-of-service"), { what: `${outside} out of local-internal` });
      await expect(t.launch(replace("5.0.0", 0, { lb: "local-internal", plan: { version: "5.0.0", batchSize: { unit: "count", value: 2 }, includeOutOfService: true } }))).rejects.toThrow(new RegExp(`REPLACE_REFUSED.*not behind local-internal \\([^)]*${outside}\\b`));
    } finally {
      await fleet.provider.register("local-internal", [outside!]);
    }
    expect(t.store.listRollouts().length).toBe(count);
    const after = await fleet.control.group();
    expect({ ids: groupIds(after), desired: after.desiredCapacity, launch: after.launchVersion }).toEqual({ ids: groupIds(before), desired: before.desiredCapacity, launch: before.launchVersion });
  }, 60_000);

  it("an engine SIGKILLed while the group launches the surge, and while it waits for replacements, resumes: nothing launched twice, the group ends at its size", async () => {
    const launchesBefore = (await fleet.control.group()).activities.filter((a) => a.kind === "launch").length;
    const run = await underLoad(async () => {
      const id = await t.launch(replace("6.0.0", 1, { mode: { kind: "auto", bakeMs: 0 } }));
      await t.operate(id, { type: "approve" });
      for (const step of ["f0:launch#1", "f1:replace#1"]) {
        await waitFor(() => t.events(id).some((e) => e.type === "step-started" && (e.payload as { effectId?: string }).effectId === step), { timeoutMs: 120_000, what: `${step} to start` });
        await engine!.kill();
        engine = await startHeadlessEngine({ dataDir: dataDir(), controlUrl: fleet.controlUrl });
      }
      await t.waitPhase(id, "succeeded", 180_000);
      const types = t.events(id).map((e) => e.type);
      expect(types.filter((x) => x === "engine-crash-detected")).toHaveLength(2);
    });
    expect(run.traffic.failed, run.failures).toBe(0);
    expect(run.low).toBeGreaterThanOrEqual(4);
    const g = await fleet.control.group();
    expect(g.desiredCapacity).toBe(5);
    expect(g.instances).toHaveLength(5);
    expect(g.instances.every((i) => i.launchVersion === "6.0.0" && i.version === "6.0.0")).toBe(true);
    expect(g.activities.filter((a) => a.kind === "launch").length - launchesBefore).toBe(5);
  }, 300_000);
});
