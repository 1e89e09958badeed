/**
 * The engine in this process on the real local fleet, behind a provider wrapper that injects
 * transient errors: retries with backoff (each logged), escalation after the bound, auto mode with
 * bake and continue-now, pause at a step boundary, and auto-pause when traffic errors rise.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { ProviderError, type LoadBalancerProvider } from "@/server/providers/types";
import { rolloutDetailWithState } from "@/server/api/rollouts";
import { createRuntime, type Runtime } from "@/server/runtime";
import { TestControl, waitFor } from "./harness";

let dir: string;
let fleet: LocalFleetHandle;
let rt: Runtime;
let t: TestControl;
/** Calls to fail with a transient error: method → how many more times (Infinity: until cleared). */
const failures: Partial<Record<keyof LoadBalancerProvider, number>> = {};

function flaky(inner: LoadBalancerProvider): LoadBalancerProvider {
  const wrap =
    <K extends "deregister" | "register">(k: K, code: "THROTTLED" | "UNAVAILABLE") =>
    async (lb: string, ids: string[]) => {
      const left = failures[k] ?? 0;
      if (left > 0) {
        failures[k] = left - 1;
        throw new ProviderError(code, code === "THROTTLED" ? "Rate exceeded" : "connect ECONNREFUSED");
      }
      return inner[k](lb, ids);
    };
  return { ...inner, name: inner.name, deregister: wrap("deregister", "THROTTLED"), register: wrap("register", "UNAVAILABLE") };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-inproc-"));
  fleet = await startLocalFleet({ instances: 2, dataDir: path.join(dir, "fleet"), trafficRps: 30, slowFraction: 0 });
  const provider = flaky(fleet.provider);
  t = new TestControl(path.join(dir, "engine"), provider);
  rt = createRuntime({ dataDir: path.join(dir, "engine"), provider, engine: { retry: { attempts: 3, baseMs: 50, maxMs: 200 }, autoPauseFailures: 3 } });
  rt.startEngine();
}, 90_000);

afterAll(async () => {
  await rt?.close();
  t?.close();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("engine in process", () => {
  it("retries transient provider errors with backoff, logging each retry, and succeeds", async () => {
    failures.deregister = 2;
    failures.register = 1;
    const id = await t.launch({ version: "2.0.0", plan: { version: "2.0.0", batchSize: { unit: "count", value: 1 } }, mode: { kind: "auto", bakeMs: 200 } });
    await t.waitPhase(id, "succeeded", 90_000);
    const retries = t.events(id).filter((e) => e.type === "step-retry");
    expect(retries.map((e) => e.payload.code)).toEqual(["THROTTLED", "THROTTLED", "UNAVAILABLE"]);
    expect(retries.map((e) => e.payload.attempt)).toEqual([1, 2, 1]);
    expect(retries.every((e) => typeof e.payload.delayMs === "number" && e.outcome === "info")).toBe(true);
    // Auto mode baked between the batches, ended by the engine's tick.
    expect(t.events(id).some((e) => e.type === "tick" && e.outcome === "applied")).toBe(true);
  }, 120_000);

  it("escalates a transient error that outlasts the bound as a failed step, and retry-step recovers", async () => {
    failures.deregister = Infinity;
    const id = await t.launch({ version: "3.0.0", plan: { version: "3.0.0", batchSize: { unit: "count", value: 1 } }, mode: { kind: "auto", bakeMs: 0 } });
    await waitFor(() => t.state(id).phase === "failed-awaiting-operator", { what: "the deregister to fail" });
    const failed = t.events(id).find((e) => e.type === "step-failed");
    expect(String(failed?.payload.message)).toMatch(/gave up after 3 attempts: Rate exceeded/);
    expect(t.events(id).filter((e) => e.type === "step-retry")).toHaveLength(2);
    failures.deregister = 0;
    expect(t.operate(id, { type: "retry-step" }).ok).toBe(true);
    await t.waitPhase(id, "succeeded", 90_000);
  }, 120_000);

  it("continue-now ends a bake at once; pause holds at a step boundary until resume", async () => {
    const id = await t.launch({ version: "4.0.0", plan: { version: "4.0.0", batchSize: { unit: "count", value: 1 } }, mode: { kind: "auto", bakeMs: 600_000 } });
    await t.waitPhase(id, "baking", 60_000);
    expect(t.operate(id, { type: "pause" }).ok).toBe(true);
    await t.waitPhase(id, "paused");
    expect(t.operate(id, { type: "resume" }).ok).toBe(true);
    await t.waitPhase(id, "baking");
    expect(t.operate(id, { type: "continue-now" }, "carl").ok).toBe(true);
    await waitFor(() => t.state(id).currentBatch === 1, { what: "batch 2 to start after continue-now" });
    expect(t.operate(id, { type: "pause" }).ok).toBe(true);
    const paused = await t.waitPhase(id, "paused", 60_000);
    // Nothing new starts while paused.
    const seq = t.store.lastSeq(id);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(t.events(id).filter((e) => e.seq > seq && e.type === "step-started")).toEqual([]);
    expect(t.state(id).phase).toBe("paused");
    expect(t.operate(id, { type: "resume" }).ok).toBe(true);
    await t.waitPhase(id, "succeeded", 60_000);
    expect(paused.cursor.batch).toBe(1);
  }, 120_000);

  it("auto mode pauses by itself when the traffic error count rises during a batch", async () => {
    const id = await t.launch({ version: "5.0.0", plan: { version: "5.0.0", batchSize: { unit: "count", value: 1 } }, mode: { kind: "auto", bakeMs: 0 } });
    const inBatch = t.state(id).batches[0]!.instanceIds[0]!;
    const other = t.state(id).batches[1]!.instanceIds[0]!;
    await waitFor(() => t.events(id).some((e) => e.type === "step-started"), { what: "the first step" });
    await fleet.control.injectFault({ kind: "backend-500", instanceId: other });
    try {
      await t.waitPhase(id, "paused", 60_000);
    } finally {
      await fleet.control.clearFaults();
    }
    const note = t.events(id).find((e) => e.type === "auto-paused");
    expect(note?.payload.message).toMatch(/traffic failures rose by \d+ during batch 1/);
    expect(t.events(id).find((e) => e.type === "pause")).toMatchObject({ actor: "engine", outcome: "applied" });
    expect(t.state(id).batches[0]!.instanceIds).toContain(inBatch);
    expect(t.operate(id, { type: "resume" }).ok).toBe(true);
    await t.waitPhase(id, "succeeded", 90_000);
  }, 150_000);

  it("a drain that outlasts the rollout's drain timeout is a step-timed-out the operator sees; retry waits again", async () => {
    const id = await t.launch({
      version: "6.0.0",
      plan: { version: "6.0.0", batchSize: { unit: "count", value: 1 } },
      mode: { kind: "auto", bakeMs: 0 },
      drainTimeoutMs: 500,
    });
    // The balancer's own drain timeout (30 s) is longer: it keeps the held request, the engine stops waiting.
    const first = t.state(id).batches[0]!.instanceIds[0]!;
    await fleet.control.injectFault({ kind: "slow-drain", instanceId: first, holdMs: 6_000 });
    const s = await t.waitPhase(id, "failed-awaiting-operator", 60_000);
    expect(s.failure).toMatchObject({ kind: "timeout", step: "drain", ids: [first] });
    const timedOut = t.events(id).find((e) => e.type === "step-timed-out");
    const drain = rolloutDetailWithState(id, rt)!.batches[0]!.instances[0]!.steps.find((x) => x.name === "drain")!;
    expect(drain).toMatchObject({ status: "timed-out" });
    expect(drain.message).toMatch(/drain not finished within 500 ms/);
    expect(String(timedOut?.payload.message)).toMatch(/drain not finished within 500 ms \(\+3000 ms for the load balancer to report\): .*draining \(Instance deregistration currently in progress\.\), 1 in flight/);
    expect(t.operate(id, { type: "retry-step" }).ok).toBe(true);
    await t.waitPhase(id, "succeeded", 90_000);
  }, 120_000);

  it("an instance that never gets in service times out with the provider's reason, and stays out of rotation", async () => {
    const id = await t.launch({
      version: "7.0.0",
      plan: { version: "7.0.0", batchSize: { unit: "count", value: 1 } },
      mode: { kind: "auto", bakeMs: 0 },
      inServiceTimeoutMs: 2_500,
    });
    const first = t.state(id).batches[0]!.instanceIds[0]!;
    await fleet.control.injectFault({ kind: "health-fails-after-start", instanceId: first });
    try {
      const s = await t.waitPhase(id, "failed-awaiting-operator", 60_000);
      expect(s.failure).toMatchObject({ kind: "timeout", step: "wait-in-service", ids: [first] });
      const timedOut = t.events(id).find((e) => e.type === "step-timed-out");
      expect(String(timedOut?.payload.message)).toMatch(new RegExp(`in-service not finished within 2500 ms: ${first} out-of-service \\(`));
      const now = await fleet.provider.describeInstances("local");
      expect(now.find((i) => i.id === first)?.state).toBe("out-of-service");
      expect(now.find((i) => i.id !== first)?.state).toBe("in-service");
    } finally {
      await fleet.control.clearFaults();
    }
    expect(t.operate(id, { type: "retry-step" }).ok).toBe(true);
    await t.waitPhase(id, "succeeded", 90_000);
  }, 120_000);
});
