/**
 * The local fleet loses no request: under ~200 req/s of keep-alive traffic (a quarter slow, 0.5–3 s),
 * the proper procedure on each of 5 instances drops nothing, while the naive one (stop without
 * deregistering) does — proof that the harness sees failures. Real processes throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import type { LocalTrafficStats } from "../protocol";
import { hook, instance, rollInstance, waitFor } from "./procedure";

const RPS = 200;
let fleet: LocalFleetHandle;
let dataDir: string;

function diff(a: LocalTrafficStats, b: LocalTrafficStats) {
  const kinds: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.failuresByKind)) if (v - (a.failuresByKind[k] ?? 0) > 0) kinds[k] = v - (a.failuresByKind[k] ?? 0);
  const versions: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.versions)) if (v - (a.versions[k] ?? 0) > 0) versions[k] = v - (a.versions[k] ?? 0);
  return { requests: b.requests - a.requests, ok: b.ok - a.ok, failed: b.failed - a.failed, kinds, versions };
}

/** Waits until `n` more requests have completed after `from`. */
async function completed(from: LocalTrafficStats, n: number): Promise<LocalTrafficStats> {
  return waitFor(`${n} more requests`, async () => {
    const t = await fleet.control.traffic();
    return t.requests - from.requests >= n ? t : undefined;
  }, 30_000, 100);
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-zero-drop-"));
  fleet = await startLocalFleet({ instances: 5, dataDir, trafficRps: RPS, slowFraction: 0.25, drainTimeoutMs: 30_000 });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("zero-drop rolling deploy on the local fleet", () => {
  it("baseline, naive control, then the proper procedure on all 5 instances", async () => {
    const lb = fleet.lbName;
    const p = fleet.provider;

    // Baseline: traffic and nothing else: keep-alive settings alone must not cost a request.
    const b0 = await fleet.control.traffic();
    const b1 = await completed(b0, RPS * 4);
    const baseline = diff(b0, b1);

    // Naive control: stop i-local-1 while it is still registered.
    const n0 = await fleet.control.traffic();
    await hook(p, lb, "i-local-1", "stop", "1.0.0");
    await waitFor("i-local-1 out of service", async () => (await instance(p, lb, "i-local-1")).state === "out-of-service");
    await hook(p, lb, "i-local-1", "start", "1.0.0");
    await waitFor("i-local-1 back in service", async () => (await instance(p, lb, "i-local-1")).state === "in-service");
    const n1 = await completed(n0, 0);
    // Let the requests issued during the naive stop finish before counting them.
    const n2 = await completed(n1, RPS * 3);
    const naive = diff(n0, n2);

    // The proper procedure, one instance at a time, to 2.0.0.
    const r0 = await fleet.control.traffic();
    const rolled = Date.now();
    for (const i of [1, 2, 3, 4, 5]) await rollInstance(p, lb, `i-local-${i}`, "2.0.0");
    const rollMs = Date.now() - rolled;
    const r1 = await fleet.control.traffic();
    // Every request issued during the rollout completes within ~3 s (the slowest /slow); then look at what came after.
    const r2 = await completed(r1, RPS * 4);
    const proper = diff(r0, r2);
    const after = diff(r1, r2);
    const lbTotals = (await fleet.control.loadBalancer(lb)).totals;

    console.info(
      `zero-drop: baseline ${JSON.stringify(baseline)}\n  naive stop (no deregister) ${JSON.stringify(naive)}\n  proper procedure x5 in ${rollMs} ms ${JSON.stringify(proper)}\n  after the last instance returned ${JSON.stringify(after)}\n  balancer totals ${JSON.stringify(lbTotals)}`,
    );

    const why = JSON.stringify(r2.recentFailures);
    expect(baseline.requests).toBeGreaterThanOrEqual(RPS * 4);
    expect(baseline.failed, JSON.stringify(b1.recentFailures)).toBe(0);
    expect(naive.failed).toBeGreaterThan(0);
    expect(proper.requests).toBeGreaterThan(RPS * 5);
    expect(proper.failed, why).toBe(0);
    expect(proper.kinds, why).toEqual({});
    // Requests still in flight when the last instance returned were all served by 2.0.0 too (nobody serves 1.0.0 any more).
    expect(Object.keys(after.versions)).toEqual(["2.0.0"]);
    expect(after.versions["2.0.0"]).toBe(after.ok);
    const final = await p.describeInstances(lb);
    expect(final.map((i) => [i.state, i.version])).toEqual(Array(5).fill(["in-service", "2.0.0"]));
  }, 120_000);
});
