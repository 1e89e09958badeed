/**
 * Faults on the real local fleet, driven through the dashboard's API (commands and queries) with the
 * engine headless in its own process: a failed deploy waits for the operator with the instance out of
 * rotation and capacity kept; retry, skip and rollback; input and plan refusals; two concurrent starts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getInstance } from "@/lib/rollout/state";
import type { StartRolloutInput } from "@/lib/validation";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import type { OperatorEvent } from "@/lib/rollout/types";
import { rolloutDetailWithState, rolloutList } from "@/server/api/rollouts";
import { runCommand } from "@/server/commands";
import { createRuntime, type Runtime } from "@/server/runtime";
import { startHeadlessEngine, TestControl, waitFor, type HeadlessEngine } from "./harness";

let dir: string;
let fleet: LocalFleetHandle;
let engine: HeadlessEngine;
let t: TestControl;
let rt: Runtime;
const engineDir = () => path.join(dir, "engine");
const operator = (name: string) => ({ name, role: "operator" as const });
// The dashboard's own pipeline and reads, in this process; the engine runs headless in its own.
const startRollout = (input: unknown, actor: string) => runCommand(rt, operator(actor), { type: "start-rollout", input });
const submitOperatorEvent = (c: { rolloutId: string; event: OperatorEvent }, actor: string) =>
  runCommand(rt, operator(actor), { type: "operator-event", rolloutId: c.rolloutId, event: c.event });
const getRolloutDetail = (id: string) => rolloutDetailWithState(id, rt);
const listRollouts = (filter: { lb?: string } = {}) => rolloutList(filter, rt);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-faults-"));
  fleet = await startLocalFleet({ instances: 4, dataDir: path.join(dir, "fleet"), trafficRps: 30, slowFraction: 0.05, drainTimeoutMs: 10_000 });
  rt = createRuntime({ dataDir: engineDir(), provider: fleet.provider });
  engine = await startHeadlessEngine({ dataDir: engineDir(), controlUrl: fleet.controlUrl });
  t = new TestControl(engineDir(), fleet.provider);
}, 90_000);

afterAll(async () => {
  t?.close();
  await rt?.close();
  await engine?.stop();
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const input = (version: string, extra: Partial<StartRolloutInput> = {}): StartRolloutInput => ({
  lb: "local",
  version,
  batchSize: { unit: "count", value: 2 },
  canary: false,
  includeOutOfService: false,
  approval: { mode: "manual" },
  strategy: "in-place",
  analysisOnFail: "pause",
  ...extra,
});

async function start(version: string): Promise<string> {
  const r = await startRollout(input(version), "olga");
  if (!r.ok) throw new Error(`start refused: ${r.message}`);
  return r.data.id;
}

async function act(id: string, event: OperatorEvent, actor = "olga") {
  const r = await submitOperatorEvent({ rolloutId: id, event }, actor);
  if (!r.ok) throw new Error(`${event.type} refused: ${r.message}`);
}

async function fleetNow() {
  return fleet.control.instances("local");
}

describe("faults", () => {
  it("a failed deploy waits for the operator with the instance out of rotation; retry after clearing the fault succeeds", async () => {
    await fleet.control.resetTraffic();
    const id = await start("2.0.0");
    const victim = t.state(id).batches[0]!.instanceIds[1]!;
    // Armed before the engine reaches deploy (it drains first): the deploy of `victim` fails once.
    await fleet.control.injectFault({ kind: "deploy-fails", instanceId: victim });
    const failed = await t.waitPhase(id, "failed-awaiting-operator");
    expect(failed.failure).toMatchObject({ step: "deploy", ids: [victim] });

    const now = await fleetNow();
    const v = now.find((i) => i.id === victim)!;
    expect(v.registered).toBe(false);
    expect(v.state).not.toBe("in-service");
    const inService = now.filter((i) => i.state === "in-service").length;
    expect(inService).toBeGreaterThanOrEqual(failed.plan.minHealthy);

    const detail = getRolloutDetail(id)!;
    expect(detail.view.phase).toBe("failed-awaiting-operator");
    expect(detail.view.nextActions.find((a) => a.action === "retry-step")?.enabled).toBe(true);
    const step = detail.batches[0]!.instances.find((i) => i.id === victim)!.steps.find((s) => s.name === "deploy")!;
    expect(step.status).toBe("failed");
    expect(step.outputTail).toMatch(/injected fault/);
    expect(detail.capacity.inService).toBeGreaterThanOrEqual(detail.capacity.minHealthy);

    // Approving now is refused by the machine, and the refusal is on the record.
    const refused = await submitOperatorEvent({ rolloutId: id, event: { type: "approve" } }, "impatient-ivan");
    expect(refused.ok).toBe(false);
    expect(t.events(id).at(-1)).toMatchObject({ type: "approve", actor: "impatient-ivan", outcome: "rejected" });

    await fleet.control.clearFaults();
    await act(id, { type: "retry-step" });
    expect(await t.approveUntilDone(id)).toBe("succeeded");
    expect((await fleetNow()).map((i) => i.version)).toEqual(Array(4).fill("2.0.0"));
    expect((await fleet.control.traffic()).failed).toBe(0);
    expect((await listRollouts({ lb: "local" }))[0]).toMatchObject({ id, phase: "succeeded", active: false, createdBy: "olga" });
  }, 150_000);

  it("skip leaves the failed instance out and continues; rollback then restores the previous version everywhere touched", async () => {
    await fleet.control.resetTraffic();
    const id = await start("3.0.0");
    const victim = t.state(id).batches[0]!.instanceIds[0]!;
    await fleet.control.injectFault({ kind: "deploy-fails", instanceId: victim });
    await t.waitPhase(id, "failed-awaiting-operator");
    await fleet.control.clearFaults();
    await act(id, { type: "skip-instance", instanceId: victim });
    const waiting = await t.waitPhase(id, "awaiting-approval");
    expect(waiting.batches[0]!.instanceIds.filter((x) => x !== victim).every((x) => getInstance(waiting, x)?.status === "done")).toBe(true);
    const out = (await fleetNow()).find((i) => i.id === victim)!;
    expect(out.registered).toBe(false);

    await act(id, { type: "approve" });
    await waitFor(() => t.state(id).currentBatch === 1, { what: "batch 2 to start" });
    await act(id, { type: "rollback" }, "rolf");
    await t.waitPhase(id, "rolled-back", 120_000);
    await waitFor(async () => (await fleetNow()).every((i) => i.state === "in-service"), { what: "every instance in service" });
    const after = await fleetNow();
    expect(after.every((i) => i.registered && i.version === "2.0.0")).toBe(true);
    expect((await fleet.control.traffic()).failed).toBe(0);
    const summary = (await listRollouts({ lb: "local" })).find((r) => r.id === id)!;
    expect(summary).toMatchObject({ phase: "rolled-back", decidedBy: { type: "rollback", actor: "rolf" } });
    const detail = getRolloutDetail(id)!;
    expect(detail.batches.some((b) => b.direction === "rollback")).toBe(true);
    expect(detail.traffic).toMatchObject({ failed: 0 });
  }, 180_000);

  it("refuses invalid input and impossible plans next to the field, creating nothing", async () => {
    const before = (await listRollouts()).length;
    const bad = await startRollout(input("1.0; rm -rf /"), "olga");
    expect(bad).toMatchObject({ ok: false, code: "INVALID_INPUT" });
    expect(!bad.ok && bad.fieldErrors?.version).toBeTruthy();
    const zero = await startRollout(input("4.0.0", { batchSize: { unit: "count", value: 0 } }), "olga");
    expect(zero).toMatchObject({ ok: false, code: "BATCH_SIZE_ZERO" });
    expect(!zero.ok && zero.fieldErrors?.batchSize).toBeTruthy();
    const tooHigh = await startRollout(input("4.0.0", { minHealthy: { unit: "count", value: 4 } }), "olga");
    expect(tooHigh).toMatchObject({ ok: false, code: "MIN_HEALTHY_UNREACHABLE" });
    expect(!tooHigh.ok && tooHigh.fieldErrors?.minHealthy).toBeTruthy();
    expect((await listRollouts()).length).toBe(before);
  });

  it("two concurrent starts on the same load balancer: exactly one wins, the other names it", async () => {
    const [a, b] = await Promise.all([startRollout(input("5.0.0"), "amy"), startRollout(input("5.0.1"), "bob")]);
    const wins = [a, b].filter((r) => r.ok);
    expect(wins).toHaveLength(1);
    const loser = [a, b].find((r) => !r.ok)!;
    const winner = wins[0]!;
    if (!winner.ok || loser.ok) throw new Error("unreachable");
    expect(loser.code).toBe("ROLLOUT_ACTIVE");
    expect(loser.message).toContain(winner.data.id);
    expect(loser.message).toMatch(/version 5\.0\.[01]/);
    await act(winner.data.id, { type: "abort" });
    await t.waitPhase(winner.data.id, "aborted", 60_000);
    await waitFor(async () => (await fleetNow()).every((i) => i.state === "in-service" && i.registered), { what: "abort to return every instance" });
  }, 90_000);
});
