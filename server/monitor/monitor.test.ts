import { afterEach, describe, expect, it } from "vitest";
import type { InstanceView, LoadBalancerProvider } from "@/server/providers/types";
import { ProviderError } from "@/server/providers/types";
import { ChangeBus } from "@/server/bus";
import { FleetMonitor, WaitTimeoutError, type FleetSnapshot } from "./index";

/** A provider that counts calls and answers from a mutable fleet (or fails on demand). */
function fakeProvider() {
  const calls = { describe: 0, traffic: 0, listLbs: 0 };
  const state = {
    instances: [{ id: "i-1", zone: "a", state: "in-service", description: "ok", inFlight: 0, version: "1" }] as InstanceView[],
    fail: null as ProviderError | null,
    failed: 0,
  };
  const provider: LoadBalancerProvider = {
    name: "local",
    async memberships(ids: string[]) {
      return Object.fromEntries(ids.map((id) => [id, ["local"]]));
    },
    async listLoadBalancers() {
      calls.listLbs++;
      return [{ name: "lb", provider: "local", kind: "local", drainTimeoutMs: 1000 }];
    },
    async describeInstances() {
      calls.describe++;
      if (state.fail) throw state.fail;
      return state.instances.map((i) => ({ ...i }));
    },
    async drainTimeoutMs() {
      return 1000;
    },
    async deregister() {},
    async register() {},
    async runHook() {
      return [];
    },
    async trafficStats() {
      calls.traffic++;
      return { at: Date.now(), requests: 10, ok: 10 - state.failed, failed: state.failed, failuresByKind: {} };
    },
  };
  return { provider, calls, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let monitor: FleetMonitor | null = null;
afterEach(() => monitor?.stop());

describe("fleet monitor", () => {
  it("serves every viewer and waiter from one poll loop per load balancer", async () => {
    const { provider, calls } = fakeProvider();
    monitor = new FleetMonitor(provider, { fastMs: 50, activeMs: 200, idleMs: 1000 });
    const seen: FleetSnapshot[][] = Array.from({ length: 20 }, () => []);
    const unsubs = seen.map((list) => monitor!.subscribe("lb", (s) => list.push(s)));
    await sleep(1_000);
    // 20 viewers at the active cadence (200 ms): about 5 refreshes in a second, not 100.
    expect(calls.describe).toBeGreaterThanOrEqual(2);
    expect(calls.describe).toBeLessThanOrEqual(8);
    expect(calls.traffic).toBe(calls.describe);
    for (const list of seen) expect(list.length).toBeGreaterThanOrEqual(calls.describe - 2);
    unsubs.forEach((u) => u());
  });

  it("polls at the fast cadence only while a wait is in progress, then slows down", async () => {
    const { provider, calls, state } = fakeProvider();
    monitor = new FleetMonitor(provider, { fastMs: 40, activeMs: 400, idleMs: 2000 });
    monitor.setActive("lb", true);
    await sleep(50);
    const before = calls.describe;
    const wait = monitor.waitFor("lb", (s) => s.instances[0]?.state === "out-of-service", { timeoutMs: 5_000 });
    await sleep(400);
    const during = calls.describe - before;
    expect(during).toBeGreaterThanOrEqual(4);
    state.instances[0]!.state = "out-of-service";
    const s = await wait;
    expect(s.instances[0]?.state).toBe("out-of-service");
    const after = calls.describe;
    await sleep(400);
    expect(calls.describe - after).toBeLessThanOrEqual(2);
    expect(monitor.snapshot("lb").intervalMs).toBe(400);
  });

  it("keeps the last error for the UI, backs off with jitter, and recovers", async () => {
    const { provider, calls, state } = fakeProvider();
    monitor = new FleetMonitor(provider, { fastMs: 20, activeMs: 20, idleMs: 20, maxBackoffMs: 400 });
    await monitor.freshSnapshot("lb");
    state.fail = new ProviderError("THROTTLED", "Rate exceeded");
    const start = calls.describe;
    await sleep(700);
    const snap = monitor.snapshot("lb");
    expect(snap.lastError).toMatchObject({ code: "THROTTLED", message: "Rate exceeded" });
    expect(snap.consecutiveErrors).toBeGreaterThanOrEqual(2);
    expect(snap.instances).toHaveLength(1);
    // Without backoff, 20 ms polling would make ~35 calls in 700 ms.
    expect(calls.describe - start).toBeLessThan(12);
    state.fail = null;
    await monitor.freshSnapshot("lb");
    expect(monitor.snapshot("lb")).toMatchObject({ lastError: null, consecutiveErrors: 0 });
  });

  it("a wait times out with the last snapshot, and can be aborted", async () => {
    const { provider } = fakeProvider();
    monitor = new FleetMonitor(provider, { fastMs: 20 });
    const err = await monitor.waitFor("lb", () => false, { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as WaitTimeoutError).last.instances[0]?.id).toBe("i-1");
    const ac = new AbortController();
    const p = monitor.waitFor("lb", () => false, { timeoutMs: 5_000, signal: ac.signal });
    ac.abort(new Error("stop"));
    await expect(p).rejects.toThrow("stop");
  });

  it("caches the load balancer list, and notifies the bus only when the fleet changed", async () => {
    const { provider, calls, state } = fakeProvider();
    const bus = new ChangeBus();
    monitor = new FleetMonitor(provider, { fastMs: 20, activeMs: 20, idleMs: 20 }, bus);
    await Promise.all([monitor.listLoadBalancers(), monitor.listLoadBalancers(), monitor.listLoadBalancers()]);
    expect(calls.listLbs).toBe(1);
    const changes: unknown[] = [];
    const off = bus.on((c) => c.kind === "fleet" && changes.push(c));
    await monitor.freshSnapshot("lb");
    await sleep(150);
    const quiet = changes.length;
    expect(quiet).toBeLessThanOrEqual(1);
    state.failed = 3;
    await sleep(100);
    expect(changes.length).toBe(quiet + 1);
    off();
  });
});

describe("instances held out of rotation by active rollouts", () => {
  it("adds the held instances the provider no longer lists, marks the listed ones, and names them all to the provider", async () => {
    const { provider, state } = fakeProvider();
    state.instances.push({ id: "i-2", zone: "b", state: "draining", description: "draining", inFlight: 3, version: "1" });
    const includes: (readonly string[] | undefined)[] = [];
    const describe = provider.describeInstances.bind(provider);
    provider.describeInstances = (lb, options) => {
      includes.push(options?.include);
      return describe(lb);
    };
    const held = [
      { id: "i-2", rolloutId: "r-1", rolloutLb: "web", zone: "b", version: "1", description: "taken out of rotation by rollout r-1 (batch 1)" },
      { id: "i-3", rolloutId: "r-1", rolloutLb: "web", zone: "c", version: null, description: "taken out of rotation by rollout r-1 (batch 1)" },
    ];
    const asked: string[] = [];
    // No polls of its own between the test's reads: each snapshot below is the read the test asked for.
    monitor = new FleetMonitor(provider, { fastMs: 60_000, activeMs: 60_000, idleMs: 60_000 }, null, (lb) => {
      asked.push(lb);
      return held;
    });
    const s = await monitor.freshSnapshot("lb");
    expect(asked).toContain("lb");
    expect(includes.at(-1)).toEqual(["i-2", "i-3"]);
    expect(s.instances).toEqual([
      { id: "i-1", zone: "a", state: "in-service", description: "ok", inFlight: 0, version: "1" },
      { id: "i-2", zone: "b", state: "draining", description: "draining", inFlight: 3, version: "1", heldBy: { rolloutId: "r-1", lb: "web" } },
      { id: "i-3", zone: "c", state: "out-of-service", description: "taken out of rotation by rollout r-1 (batch 1)", inFlight: null, version: null, heldBy: { rolloutId: "r-1", lb: "web" } },
    ]);
    // Registered back (the rollout no longer holds them): the provider's listing as it is.
    held.length = 0;
    const after = await monitor.freshSnapshot("lb");
    expect(after.instances.map((i) => i.id)).toEqual(["i-1", "i-2"]);
    expect(after.instances.some((i) => i.heldBy)).toBe(false);
    expect(includes.at(-1)).toBeUndefined();
  });

  it("a failing read of the held instances leaves the provider's listing as it was", async () => {
    const { provider } = fakeProvider();
    monitor = new FleetMonitor(provider, { fastMs: 20 }, null, () => {
      throw new Error("database is locked");
    });
    const s = await monitor.freshSnapshot("lb");
    expect(s).toMatchObject({ consecutiveErrors: 0, instances: [{ id: "i-1" }] });
  });
});
