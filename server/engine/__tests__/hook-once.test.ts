/**
 * The engine's runHook step never sends a hook again while its command may still run (real AWS
 * provider, moto with the SSM shim, which counts SendCommand at the transport and records what SSM
 * accepted): a 4 s outage of SSM's polling calls during an 8 s deploy is ridden out with the
 * CommandId recorded (`hook-sent`) before the wait; and a SendCommand whose answers are lost for
 * 1.5 s starts one command, not one per retry (before, the SDK's retries and then the step's retry
 * loop each sent the hook again while the first copy ran).
 */
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import type { AwsProvider } from "@/server/providers/aws";
import { createEstate, motoProvider } from "@/server/providers/aws/__tests__/fixture";
import { runHookEffect } from "@/server/providers/aws/__tests__/hook-effect";
import { startMoto, type MotoServer } from "@/server/testing/moto";

let moto: MotoServer;
let provider: AwsProvider;

beforeAll(async () => {
  moto = await startMoto();
}, 60_000);
afterAll(async () => {
  await provider?.close();
  await moto?.stop();
});
beforeEach(async () => {
  await provider?.close();
  await moto.reset();
});

it("runHook: a transient polling outage is ridden out, the hook is sent once and the step succeeds", async () => {
  const estate = await createEstate(moto, { instances: 2, version: "1.0.0" });
  moto.ssm.hooks = () => ({ durationMs: 8_000 });
  provider = motoProvider(moto, { ssm: { pollIntervalMs: 200 } }).provider;
  // The engine's default bound (5 attempts from 200 ms) is shorter than the outage.
  const run = runHookEffect(provider, { lb: "web", hook: "deploy", ids: estate.ids, version: "2.0.0", timeoutMs: 60_000 }, { retry: { attempts: 5, baseMs: 200, maxMs: 5_000 } });
  await expect.poll(() => moto.ssm.sent.length, { timeout: 10_000, interval: 50 }).toBe(1);
  moto.ssm.outage(["ListCommandInvocations", "GetCommandInvocation"], 4_000, "503");
  const outcome = await run.outcome;
  expect(moto.ssm.count("SendCommand")).toBe(1);
  expect(outcome.type, JSON.stringify(outcome)).toBe("step-succeeded");
  expect(run.notes.filter((n) => n.type === "hook-sent")).toEqual([{ type: "hook-sent", payload: { hook: "deploy", commandId: moto.ssm.sent[0]?.commandId, ids: estate.ids } }]);
}, 30_000);

it("runHook: a SendCommand whose answers are lost for 1.5 s starts exactly one command", async () => {
  const estate = await createEstate(moto, { instances: 2, version: "1.0.0" });
  moto.ssm.hooks = () => ({ durationMs: 2_000 });
  provider = motoProvider(moto, { ssm: { pollIntervalMs: 200 } }).provider;
  moto.ssm.outage(["SendCommand"], 1_500, "lost");
  const run = runHookEffect(provider, { lb: "web", hook: "deploy", ids: estate.ids, version: "2.0.0", timeoutMs: 60_000 }, { retry: { attempts: 5, baseMs: 200, maxMs: 5_000 } });
  const outcome = await run.outcome;
  expect(moto.ssm.sent).toHaveLength(1);
  expect(outcome.type, JSON.stringify(outcome)).toBe("step-succeeded");
  expect(run.sent()).toEqual([{ commandId: moto.ssm.sent[0]?.commandId, ids: estate.ids }]);
}, 30_000);
