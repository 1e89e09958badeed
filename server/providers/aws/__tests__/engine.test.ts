/**
 * The real engine (headless, in its own process, ROTOR_PROVIDER=aws) driving a rollout against moto:
 * batches of 2 with approvals end `succeeded`, SSM commands read back from moto in order per batch
 * with the version as a parameter, and minHealthy in service at every observation; a rollback after
 * batch 2 runs the same procedure newest batch first, back to the previous version.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listInstances } from "@/lib/rollout/state";
import type { HookName } from "@/lib/rollout/types";
import { startHeadlessEngine, TestControl, type HeadlessEngine } from "@/server/engine/__tests__/harness";
import type { AwsProvider } from "@/server/providers/aws";
import { createEstate, listCommands, motoProvider, type Estate } from "@/server/providers/aws/__tests__/fixture";
import { rotorEnvFor, startMoto, type MotoServer } from "@/server/testing/moto";

const HOOKS: HookName[] = ["stop", "deploy", "start", "verify"];
const LB = "web";

let dir: string;
let moto: MotoServer;
let estate: Estate;
let engine: HeadlessEngine;
let provider: AwsProvider;
let t: TestControl;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-aws-engine-"));
  moto = await startMoto();
  estate = await createEstate(moto, { instances: 6, version: "1.0.0", drainSeconds: 5 });
  engine = await startHeadlessEngine({ dataDir: dir, controlUrl: "http://127.0.0.1:9", env: { ...rotorEnvFor(moto, estate), ROTOR_AWS_SSM_POLL_MS: "100" } });
  provider = motoProvider(moto).provider;
  t = new TestControl(dir, provider);
}, 90_000);

afterAll(async () => {
  t?.close();
  await provider?.close();
  await engine?.stop();
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** Samples the fleet every 100 ms while `work` runs; returns the fewest instances seen in service. */
async function watchInService<T>(work: () => Promise<T>): Promise<{ result: T; minInService: number; samples: number }> {
  let min = Infinity;
  let samples = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const views = await provider.describeInstances(LB);
      min = Math.min(min, views.filter((v) => v.state === "in-service").length);
      samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const result = await work();
    return { result, minInService: min, samples };
  } finally {
    done = true;
    await sampler;
  }
}

function hookSequence(commands: Awaited<ReturnType<typeof listCommands>>) {
  return commands.map((c) => ({ hook: c.Parameters?.Hook?.[0], version: c.Parameters?.Version?.[0], ids: (c.Comment ?? "").replace(/^rotor \w+ [\w-]+ [0-9a-f]+: /, "").split(" ").sort().join(" ") }));
}

function expected(batches: string[][], version: string) {
  return batches.flatMap((ids) => HOOKS.map((hook) => ({ hook, version, ids: [...ids].sort().join(" ") })));
}

describe("the engine against moto (ROTOR_PROVIDER=aws)", () => {
  it("rolls 6 instances out in batches of 2 with approvals and ends succeeded", async () => {
    const id = await t.launch({ lb: LB, version: "1.1.0" });
    const { result: end, minInService, samples } = await watchInService(() => t.approveUntilDone(id));
    expect(end).toBe("succeeded");
    const s = t.state(id);
    expect(s.batches.map((b) => b.instanceIds.length)).toEqual([2, 2, 2]);
    expect(samples).toBeGreaterThan(3);
    expect(minInService).toBeGreaterThanOrEqual(4);
    expect(hookSequence((await listCommands(moto)).filter((c) => c.Parameters?.Hook?.[0] !== "probe"))).toEqual(
      expected(s.batches.map((b) => b.instanceIds), "1.1.0"),
    );
    const after = await provider.describeInstances(LB);
    expect(after.every((v) => v.state === "in-service" && v.version === "1.1.0")).toBe(true);
  }, 180_000);

  it("rolls back after batch 2, newest batch first, to the previous version", async () => {
    const before = (await listCommands(moto)).length;
    const id = await t.launch({ lb: LB, version: "2.0.0" });
    const { result: touched, minInService } = await watchInService(async () => {
      await t.waitPhase(id, "awaiting-approval");
      expect(t.operate(id, { type: "approve" }).ok).toBe(true);
      await t.waitPhase(id, "awaiting-approval");
      const ids = listInstances(t.state(id)).filter((i) => i.touched).map((i) => i.id);
      expect(t.operate(id, { type: "rollback" }, "rita").ok).toBe(true);
      await t.waitPhase(id, "rolled-back", 120_000);
      return ids;
    });
    expect(touched).toHaveLength(4);
    expect(minInService).toBeGreaterThanOrEqual(4);
    const s = t.state(id);
    const [b0, b1] = s.batches.map((b) => b.instanceIds) as [string[], string[]];
    const seq = hookSequence((await listCommands(moto)).slice(before));
    expect(seq.slice(0, 8)).toEqual([...expected([b0], "2.0.0"), ...expected([b1], "2.0.0")]);
    // Back to 1.1.0, newest first; the engine may group the rollback as it likes, but batch 2 comes back before batch 1.
    const back = seq.slice(8);
    expect(back.every((c) => c.version === "1.1.0")).toBe(true);
    const firstB1 = back.findIndex((c) => b1.some((id) => c.ids.includes(id)));
    const firstB0 = back.findIndex((c) => b0.some((id) => c.ids.includes(id)));
    expect(firstB1).toBeGreaterThanOrEqual(0);
    expect(firstB1).toBeLessThan(firstB0);
    const after = await provider.describeInstances(LB);
    expect(after.every((v) => v.state === "in-service" && v.version === "1.1.0")).toBe(true);
  }, 180_000);

  it("an alarm in ALARM during a batch's analysis fails it, and the rollout rolls back by its policy", async () => {
    const cw = new CloudWatchClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    try {
      await cw.send(new PutMetricAlarmCommand({ AlarmName: "web-5xx", Namespace: "AWS/ELB", MetricName: "HTTPCode_Backend_5XX", Statistic: "Sum", Period: 60, EvaluationPeriods: 1, Threshold: 10, ComparisonOperator: "GreaterThanThreshold" }));
      // A name CloudWatch does not know is refused before anything changes.
      await expect(t.launch({ lb: LB, version: "3.0.0", analysis: { request: { windowMs: 2_000, onFail: "rollback", alarms: ["web-5xx", "web-typo"] }, defaults: { windowMs: 0, alarmsByLb: {} } } })).rejects.toThrow(/ANALYSIS_ALARMS: Nothing was started: .*web-typo/);
      // No alarm named and no per-instance figures on AWS: an asked-for window is refused, saying what to add.
      await expect(t.launch({ lb: LB, version: "3.0.0", analysis: { request: { windowMs: 2_000, onFail: "pause", alarms: [] }, defaults: { windowMs: 0, alarmsByLb: {} } } })).rejects.toThrow(/ANALYSIS_UNAVAILABLE: .*name them, or set the analysis window to 0/);

      await cw.send(new SetAlarmStateCommand({ AlarmName: "web-5xx", StateValue: "ALARM", StateReason: "5xx over 10 after batch 1" }));
      const id = await t.launch({ lb: LB, version: "3.0.0", analysis: { request: { windowMs: 60_000, onFail: "rollback", alarms: ["web-5xx"] }, defaults: { windowMs: 0, alarmsByLb: {} } } });
      const s = await t.waitPhase(id, "rolled-back", 120_000);
      const a = s.batches[0]!.analysis!;
      expect(a).toMatchObject({ verdict: "fail", action: "rolled-back", alarms: [{ name: "web-5xx", state: "ALARM" }] });
      expect(a.reasons[0]).toBe("Alarm web-5xx is in ALARM: 5xx over 10 after batch 1.");
      // An alarm in ALARM ends the window at once: the minute was not waited out.
      expect(a.to - a.from).toBeLessThan(30_000);
      const after = await provider.describeInstances(LB);
      expect(after.every((v) => v.state === "in-service" && v.version === "1.1.0")).toBe(true);
    } finally {
      cw.destroy();
    }
  }, 180_000);
});
