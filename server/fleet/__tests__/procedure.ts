/** Shared by the fleet's integration tests: polling, the per-batch procedure and the zero-drop run, through the provider. */
import { expect } from "vitest";
import type { InstanceView, LoadBalancerProvider } from "@/server/providers/types";
import type { HookName } from "@/lib/rollout/types";
import type { LocalFleetHandle } from "../testing";
import type { LocalTrafficStats } from "../protocol";

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function instance(p: LoadBalancerProvider, lb: string, id: string): Promise<InstanceView> {
  const found = (await p.describeInstances(lb)).find((i) => i.id === id);
  if (!found) throw new Error(`no instance ${id}`);
  return found;
}

export async function hook(p: LoadBalancerProvider, lb: string, id: string, name: HookName, version: string) {
  const [r] = await p.runHook(lb, [id], name, { version }, { timeoutMs: 30_000 });
  if (!r?.ok) throw new Error(`${name} on ${id} failed (exit ${r?.exitCode}):\n${r?.outputTail}`);
  return r;
}

/** Whether every id is in `state` at every balancer in `lbs` (and, out of service, with nothing in flight). */
async function everywhere(p: LoadBalancerProvider, lbs: string[], ids: string[], state: "out-of-service" | "in-service"): Promise<boolean> {
  for (const lb of lbs) {
    const all = (await p.describeInstances(lb)).filter((i) => ids.includes(i.id));
    if (all.length !== ids.length || !all.every((i) => i.state === state && (state === "in-service" || i.inFlight === 0))) return false;
  }
  return true;
}

/**
 * The whole procedure on one batch: deregister → drain → stop → deploy → start → verify → register → in
 * service, taking the batch out of (and back into) each balancer in `lbs`, waiting at every one of them.
 * Hooks are asked through the first.
 */
export async function rollBatch(p: LoadBalancerProvider, lbs: string | string[], ids: string[], version: string): Promise<void> {
  const all = typeof lbs === "string" ? [lbs] : lbs;
  const via = all[0]!;
  for (const lb of all) await p.deregister(lb, ids);
  await waitFor(`${ids.join(", ")} drained at ${all.join(", ")}`, () => everywhere(p, all, ids, "out-of-service"));
  for (const name of ["stop", "deploy", "start", "verify"] as const) await Promise.all(ids.map((id) => hook(p, via, id, name, version)));
  for (const lb of all) await p.register(lb, ids);
  await waitFor(`${ids.join(", ")} in service at ${all.join(", ")}`, () => everywhere(p, all, ids, "in-service"));
}

export function rollInstance(p: LoadBalancerProvider, lb: string, id: string, version: string): Promise<void> {
  return rollBatch(p, lb, [id], version);
}

export function trafficDiff(a: LocalTrafficStats, b: LocalTrafficStats) {
  const kinds: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.failuresByKind)) if (v - (a.failuresByKind[k] ?? 0) > 0) kinds[k] = v - (a.failuresByKind[k] ?? 0);
  const versions: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.versions)) if (v - (a.versions[k] ?? 0) > 0) versions[k] = v - (a.versions[k] ?? 0);
  return { requests: b.requests - a.requests, ok: b.ok - a.ok, failed: b.failed - a.failed, kinds, versions };
}

/**
 * Baseline, a naive stop of i-local-1 while still in rotation (`naiveStop`, then it is started again),
 * then the proper procedure over `batches` to 2.0.0, under the traffic the fleet generates (`rps`).
 * Answers the counts of each phase; the caller asserts.
 */
export async function zeroDropRun(fleet: LocalFleetHandle, o: { rps: number; batches: string[][]; naiveStop: () => Promise<void>; label: string }) {
  const lb = fleet.lbName;
  const p = fleet.provider;
  const completed = (from: LocalTrafficStats, n: number) =>
    waitFor(`${n} more requests`, async () => {
      const t = await fleet.control.traffic();
      return t.requests - from.requests >= n ? t : undefined;
    }, 30_000, 100);

  // Baseline: traffic and nothing else: keep-alive settings alone must not cost a request.
  const b0 = await fleet.control.traffic();
  const b1 = await completed(b0, o.rps * 4);
  const baseline = trafficDiff(b0, b1);

  const n0 = await fleet.control.traffic();
  await o.naiveStop();
  await waitFor("i-local-1 out of service", async () => (await instance(p, lb, "i-local-1")).state === "out-of-service");
  await hook(p, lb, "i-local-1", "start", "1.0.0");
  await waitFor("i-local-1 back in service", async () => (await instance(p, lb, "i-local-1")).state === "in-service");
  const n1 = await completed(n0, 0);
  // Let the requests issued during the naive stop finish before counting them.
  const n2 = await completed(n1, o.rps * 3);
  const naive = trafficDiff(n0, n2);

  const r0 = await fleet.control.traffic();
  const rolled = Date.now();
  for (const batch of o.batches) await rollBatch(p, lb, batch, "2.0.0");
  const rollMs = Date.now() - rolled;
  const r1 = await fleet.control.traffic();
  // Every request issued during the rollout completes within ~3 s (the slowest /slow); then look at what came after.
  const r2 = await completed(r1, o.rps * 4);
  const proper = trafficDiff(r0, r2);
  const after = trafficDiff(r1, r2);
  const lbTotals = (await fleet.control.loadBalancer(lb)).totals;
  console.info(
    `${o.label}: baseline ${JSON.stringify(baseline)}\n  naive stop: failed ${naive.failed} of ${naive.requests} ${JSON.stringify(naive)}\n  proper procedure (${o.batches.map((b) => b.length).join("+")}) in ${rollMs} ms: failed ${proper.failed} of ${proper.requests} ${JSON.stringify(proper)}\n  after the last batch returned ${JSON.stringify(after)}\n  balancer totals ${JSON.stringify(lbTotals)}`,
  );
  return { baseline, baselineFailures: JSON.stringify(b1.recentFailures), naive, proper, after, failures: JSON.stringify(r2.recentFailures) };
}

/** What a zero-drop run must show: the harness saw failures in the naive control, none in the procedure. */
export async function expectZeroDrop(fleet: LocalFleetHandle, run: Awaited<ReturnType<typeof zeroDropRun>>, rps: number): Promise<void> {
  expect(run.baseline.requests).toBeGreaterThanOrEqual(rps * 4);
  expect(run.baseline.failed, run.baselineFailures).toBe(0);
  expect(run.naive.failed).toBeGreaterThan(0);
  expect(run.proper.requests).toBeGreaterThan(rps * 5);
  expect(run.proper.failed, run.failures).toBe(0);
  expect(run.proper.kinds, run.failures).toEqual({});
  // Requests still in flight when the last batch returned were all served by 2.0.0 too (nobody serves 1.0.0 any more).
  expect(Object.keys(run.after.versions)).toEqual(["2.0.0"]);
  expect(run.after.versions["2.0.0"]).toBe(run.after.ok);
  const final = await fleet.provider.describeInstances(fleet.lbName);
  expect(final.map((i) => [i.state, i.version])).toEqual(Array(final.length).fill(["in-service", "2.0.0"]));
}
