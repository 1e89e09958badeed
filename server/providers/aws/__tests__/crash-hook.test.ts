/**
 * A real dashboard engine process SIGKILLed while an SSM hook runs, against moto with the SSM shim in
 * front (it runs `deploy` for 6 s and counts every SendCommand): the CommandId is in the log before
 * the engine waits on it, so the next engine polls that command instead of sending the deploy again;
 * the rollout then goes on, and each batch's deploy was sent exactly once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startHeadlessEngine, TestControl, type HeadlessEngine } from "@/server/engine/__tests__/harness";
import type { AwsProvider } from "@/server/providers/aws";
import { createEstate, motoProvider, type Estate } from "@/server/providers/aws/__tests__/fixture";
import { rotorEnvFor, startMoto, type MotoServer } from "@/server/testing/moto";

const DEPLOY_MS = 6_000;

let dir: string;
let moto: MotoServer;
let estate: Estate;
let provider: AwsProvider;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-aws-crash-hook-"));
  moto = await startMoto();
  estate = await createEstate(moto, { instances: 4, version: "1.0.0", drainSeconds: 1, delaySeconds: 1 });
  provider = motoProvider(moto).provider;
}, 90_000);

afterAll(async () => {
  await provider?.close();
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

it("after a SIGKILL during a running deploy, the next engine polls the recorded command and never sends it again", async () => {
  moto.ssm.hooks = (hook) => (hook === "deploy" ? { durationMs: DEPLOY_MS } : {});
  const env = { ...rotorEnvFor(moto, estate), ROTOR_AWS_SSM_POLL_MS: "100" };
  let engine: HeadlessEngine | null = await startHeadlessEngine({ dataDir: dir, controlUrl: "http://127.0.0.1:9", env });
  const t = new TestControl(dir, provider);
  try {
    const id = await t.launch({ lb: "web", version: "2.0.0" });
    const deploys = () => moto.ssm.sent.filter((c) => c.hook === "deploy" && c.version === "2.0.0");
    await expect.poll(() => deploys().length, { timeout: 60_000, interval: 50 }).toBe(1);
    const first = deploys()[0]!;
    // Recorded before the engine waits on it.
    await expect.poll(() => t.events(id).some((e) => e.type === "hook-sent" && e.payload.commandId === first.commandId), { timeout: 5_000, interval: 50 }).toBe(true);
    await engine.kill();
    engine = null;

    engine = await startHeadlessEngine({ dataDir: dir, controlUrl: "http://127.0.0.1:9", env });
    const end = await t.approveUntilDone(id, 180_000);
    expect(end).toBe("succeeded");
    // One deploy per batch: the killed engine's command was polled to its end, not sent again.
    const sent = deploys();
    expect(sent.map((c) => [...c.ids].sort().join(" "))).toEqual(t.state(id).plan.batches.map((b) => [...b.instanceIds].sort().join(" ")));
    expect(sent.filter((c) => c.ids.some((i) => first.ids.includes(i)))).toHaveLength(1);
    // The step ended when the command did (it runs 6 s from when it was sent), not cut short by the restart.
    const effectId = t.events(id).find((e) => e.type === "hook-sent" && e.payload.commandId === first.commandId)?.payload.effectId;
    const done = t.events(id).find((e) => e.type === "step-succeeded" && e.payload.effectId === effectId);
    expect(done).toBeDefined();
    expect(done!.at - first.at).toBeGreaterThanOrEqual(DEPLOY_MS - 250);
    expect(t.events(id).some((e) => e.type === "engine-resumed")).toBe(true);
    expect(moto.ssm.cancels).toEqual([]);
  } finally {
    t.close();
    await engine?.stop();
  }
}, 240_000);
