/**
 * Nothing forgotten after a restart: a rollout whose batch failed while out of rotation, then a new
 * runtime (a restarted dashboard) on the same data dir whose provider no longer lists the
 * deregistered instances — as AWS stops listing a Classic ELB's deregistered instances once drained,
 * and the restarted AWS provider has no memory of them. The real runtime, store, engine, monitor and
 * command pipeline; the load balancer is a fake (an in-memory "cloud" of registrations), because the
 * point is what a provider without memory reports, which no real provider can be made to forget.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InstanceView } from "@/lib/fleet";
import { HOOK_REFUSED_EXIT } from "@/lib/rollout/types";
import type { HookResult, LoadBalancerProvider } from "@/server/providers/types";
import { fleetView } from "@/server/api/fleet";
import { runCommand } from "@/server/commands";
import { createRuntime, setRuntime, type Runtime } from "@/server/runtime";
import { waitFor } from "@/server/engine/__tests__/harness";

const IDS = ["i-1", "i-2", "i-3", "i-4", "i-5", "i-6"];

/** What the load balancer has registered, outliving any dashboard process. */
class Cloud {
  readonly registered = new Set(IDS);
  readonly registerCalls: string[][] = [];
}

/**
 * A provider over the cloud. `remembers`: it lists the instances it deregistered itself, out of
 * service (as the AWS provider does from memory); a restarted one lists only what is registered.
 * The stop hook refuses on i-1 (exit 64: nothing changed), so batch 1 fails out of rotation.
 */
function provider(cloud: Cloud, remembers: boolean): LoadBalancerProvider {
  const mine = new Set<string>();
  const view = (id: string, state: "in-service" | "out-of-service"): InstanceView => ({
    id,
    zone: Number(id.slice(2)) % 2 ? "a" : "b",
    state,
    description: state === "in-service" ? "In service" : "Instance is not currently registered with the LoadBalancer.",
    inFlight: 0,
    version: "5.0.0",
  });
  return {
    name: "local",
    listLoadBalancers: async () => [{ name: "web", provider: "local", kind: "local", drainTimeoutMs: 100 }],
    describeInstances: async () => IDS.filter((id) => cloud.registered.has(id) || (remembers && mine.has(id))).map((id) => view(id, cloud.registered.has(id) ? "in-service" : "out-of-service")),
    memberships: async (ids) => Object.fromEntries(ids.map((id) => [id, ["web"]])),
    drainTimeoutMs: async () => 100,
    deregister: async (_lb, ids) => {
      for (const id of ids) {
        cloud.registered.delete(id);
        mine.add(id);
      }
    },
    register: async (_lb, ids) => {
      cloud.registerCalls.push([...ids]);
      for (const id of ids) {
        cloud.registered.add(id);
        mine.delete(id);
      }
    },
    runHook: async (_lb, ids, hook): Promise<HookResult[]> =>
      ids.map((id) => {
        const refused = hook === "stop" && id === "i-1";
        return { id, ok: !refused, exitCode: refused ? HOOK_REFUSED_EXIT : 0, durationMs: 1, outputTail: refused ? "refused" : "" };
      }),
    trafficStats: async () => null,
  };
}

let dir: string;
let rt: Runtime | null = null;
const cloud = new Cloud();
const alice = { name: "alice", role: "operator" as const };
const fast = { monitorIntervals: { fastMs: 20, activeMs: 50, idleMs: 200 }, engine: { pollMs: 50 } };

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-held-"));
});
afterEach(async () => {
  setRuntime(null);
  await rt?.close();
  rmSync(dir, { recursive: true, force: true });
});

function phase(r: Runtime, id: string): string {
  return r.journals.get(id)?.state.phase ?? "none";
}

describe("after a restart with a batch failed out of rotation", () => {
  it("the fleet lists every instance, the held ones out of service with their rollout, and abort brings every one back", async () => {
    rt = createRuntime({ dataDir: dir, provider: provider(cloud, true), ...fast });
    setRuntime(rt);
    rt.startEngine();
    const started = await runCommand(rt, alice, { type: "start-rollout", input: { lb: "web", version: "6.0.0", batchSize: { unit: "count", value: 2 } } });
    if (!started.ok) throw new Error(`${started.code}: ${started.message}`);
    const id = started.data.id;
    const first = rt;
    await waitFor(() => phase(first, id) === "failed-awaiting-operator", { timeoutMs: 20_000, what: "batch 1 to fail" });
    expect([...cloud.registered].sort()).toEqual(["i-3", "i-4", "i-5", "i-6"]);

    // The dashboard restarts: a new runtime on the same data dir, its provider with no memory.
    setRuntime(null);
    await rt.close();
    rt = createRuntime({ dataDir: dir, provider: provider(cloud, false), ...fast });
    setRuntime(rt);

    const snap = await rt.monitor.freshSnapshot("web");
    expect(snap.instances.map((i) => i.id).sort()).toEqual(IDS);
    const held = snap.instances.filter((i) => i.heldBy);
    expect(held.map((i) => [i.id, i.state, i.description, i.heldBy])).toEqual(
      ["i-1", "i-2"].map((i) => [i, "out-of-service", `taken out of rotation by rollout ${id} (batch 1)`, { rolloutId: id, lb: "web" }]),
    );
    // The fleet table's read, through the same monitor.
    const view = await fleetView("web");
    expect(view.instances).toHaveLength(6);
    expect(view.instances.filter((i) => i.heldBy?.rolloutId === id).map((i) => i.id)).toEqual(["i-1", "i-2"]);

    rt.startEngine();
    const aborted = await runCommand(rt, alice, { type: "operator-event", rolloutId: id, event: { type: "abort" } });
    expect(aborted.ok).toBe(true);
    const second = rt;
    await waitFor(() => phase(second, id) === "aborted", { timeoutMs: 20_000, what: "the abort to finish" });
    expect(cloud.registerCalls.flat().sort()).toEqual(["i-1", "i-2"]);
    expect([...cloud.registered].sort()).toEqual(IDS);
    const after = await rt.monitor.freshSnapshot("web");
    expect(after.instances.map((i) => [i.id, i.state, i.heldBy])).toEqual(IDS.map((i) => [i, "in-service", undefined]));
    expect(rt.store.lockedInstances(id)).toEqual([]);
  }, 60_000);
});
