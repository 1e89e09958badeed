/**
 * Hooks run exactly once, through the engine's runHook step and the real AWS provider, against moto
 * with the SSM shim in front (server/testing/ssm-shim.ts): it runs each hook for a set time, counts
 * every request per operation, and injects outages. Outages of the polling calls shorter than the
 * step's timeout never fail the step nor send the hook again; a restarted engine polls the command
 * the log recorded; abort and timeout send CancelCommand; a SendCommand whose answer was lost is
 * found again, not sent twice.
 */
import { CancelCommandCommand, SSMClient } from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAwsProvider, parseAwsConfig, type AwsProvider } from "@/server/providers/aws";
import { createClients } from "@/server/providers/aws/clients";
import { createEstate, motoProvider, type Estate } from "@/server/providers/aws/__tests__/fixture";
import { runHookEffect } from "@/server/providers/aws/__tests__/hook-effect";
import { HookDetached } from "@/server/providers/types";
import { startMoto, type MotoServer } from "@/server/testing/moto";

const POLLING = ["ListCommandInvocations", "GetCommandInvocation"];
const LB = "web";

let moto: MotoServer;
let estate: Estate;
const open: AwsProvider[] = [];

function provider(): AwsProvider {
  const p = motoProvider(moto, { ssm: { pollIntervalMs: 200 } }).provider;
  open.push(p);
  return p;
}

/** A provider whose engine stops dead after its first poll (as if SIGKILLed): it never polls nor cancels again. */
function frozenProvider(): AwsProvider {
  const config = parseAwsConfig({ endpoint: moto.endpoint, region: moto.region, cache: { minRefreshMs: 0, ec2TtlMs: 0 }, ssm: { pollIntervalMs: 200 } });
  const p = createAwsProvider(config, { clients: createClients(config, { credentials: moto.credentials }), sleep: () => new Promise<never>(() => undefined) });
  open.push(p);
  return p;
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  await expect.poll(check, { timeout: timeoutMs, interval: 50 }).toBe(true);
}

beforeAll(async () => {
  moto = await startMoto();
}, 60_000);
afterAll(async () => {
  await Promise.all(open.map((p) => p.close()));
  await moto?.stop();
});
beforeEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
  await moto.reset();
  estate = await createEstate(moto, { instances: 4, version: "1.0.0" });
});

describe("hooks exactly once (engine runHook step, AWS provider, moto + SSM shim)", () => {
  it.each([
    { outageMs: 1_500, kind: "503" as const },
    { outageMs: 10_000, kind: "drop" as const },
  ])(
    "a $outageMs ms outage ($kind) of polling during a 20 s deploy: one SendCommand, the step succeeds",
    async ({ outageMs, kind }) => {
      moto.ssm.hooks = (hook) => (hook === "deploy" ? { durationMs: 20_000, stdout: "deployed\n" } : {});
      const ids = estate.ids.slice(0, 2);
      const started = Date.now();
      const run = runHookEffect(provider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 60_000 });
      await until(() => run.notes.some((n) => n.type === "hook-sent"));
      await new Promise((r) => setTimeout(r, 1_000));
      const pollsBefore = moto.ssm.count("ListCommandInvocations");
      moto.ssm.outage(POLLING, outageMs, kind);
      const outcome = await run.outcome;
      expect(outcome.type, JSON.stringify(outcome)).toBe("step-succeeded");
      expect(Date.now() - started).toBeGreaterThanOrEqual(20_000);
      expect(moto.ssm.count("SendCommand")).toBe(1);
      expect(moto.ssm.sent).toHaveLength(1);
      expect(moto.ssm.cancels).toEqual([]);
      // The outage was met (polls refused during it) and ridden out by polling again.
      expect(moto.ssm.count("ListCommandInvocations")).toBeGreaterThan(pollsBefore + 1);
      expect(run.sent()).toEqual([{ commandId: moto.ssm.sent[0]?.commandId, ids }]);
      expect(run.notes.filter((n) => n.type === "step-retry")).toEqual([]);
      if (outcome.type === "step-succeeded") expect(outcome.results?.map((r) => r.outputTail)).toEqual(["deployed\n", "deployed\n"]);
    },
    30_000,
  );

  it("a restarted engine polls the command the log recorded and sends nothing while it runs", async () => {
    moto.ssm.hooks = () => ({ durationMs: 4_000, stdout: "deployed\n" });
    const ids = estate.ids.slice(0, 3);
    const first = runHookEffect(frozenProvider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 60_000 });
    void first.outcome.catch(() => undefined);
    await until(() => first.sent().length === 1 && moto.ssm.count("ListCommandInvocations") >= 1);
    // The restart: a new provider and engine context, resumed, with the hook-sent notes of the log.
    const second = runHookEffect(provider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 60_000 }, { resumed: true, sentCommands: first.sent() });
    const outcome = await second.outcome;
    expect(outcome.type).toBe("step-succeeded");
    expect(moto.ssm.count("SendCommand")).toBe(1);
    expect(second.notes.filter((n) => n.type === "hook-sent")).toEqual([]);
    if (outcome.type === "step-succeeded") expect(outcome.results?.every((r) => r.ok)).toBe(true);
  }, 30_000);

  it("a recorded command that was interrupted is sent again only after it ended, and the result says so", async () => {
    moto.ssm.hooks = () => ({ durationMs: 3_000 });
    const ids = estate.ids.slice(0, 2);
    const first = runHookEffect(frozenProvider(), { lb: LB, hook: "start", ids, version: "2.0.0", timeoutMs: 60_000 });
    void first.outcome.catch(() => undefined);
    await until(() => first.sent().length === 1);
    const [recorded] = first.sent();
    // Cancelled while no engine watched (as a clean shutdown's abort does).
    const ssm = new SSMClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    await ssm.send(new CancelCommandCommand({ CommandId: recorded?.commandId }));
    ssm.destroy();
    const cancelledAt = Date.now();
    const second = runHookEffect(provider(), { lb: LB, hook: "start", ids, version: "2.0.0", timeoutMs: 60_000 }, { resumed: true, sentCommands: first.sent() });
    const outcome = await second.outcome;
    expect(outcome.type).toBe("step-succeeded");
    expect(moto.ssm.sent).toHaveLength(2);
    expect(moto.ssm.sent[1]?.at).toBeGreaterThanOrEqual(cancelledAt);
    expect([...(moto.ssm.sent[1]?.ids ?? [])].sort()).toEqual([...ids].sort());
    expect(second.sent()).toEqual([{ commandId: moto.ssm.sent[1]?.commandId, ids: moto.ssm.sent[1]?.ids }]);
    if (outcome.type === "step-succeeded") {
      for (const r of outcome.results ?? []) expect(r.outputTail).toContain(`command ${recorded?.commandId} (sent before a restart) ended Cancelled; sent again`);
    }
  }, 30_000);

  it("abort during a hook sends CancelCommand for its instances", async () => {
    moto.ssm.hooks = () => ({ durationMs: 20_000 });
    const ids = estate.ids.slice(0, 2);
    const controller = new AbortController();
    const run = runHookEffect(provider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 60_000 }, { signal: controller.signal });
    await until(() => run.sent().length === 1);
    controller.abort(new Error("operator abort"));
    // The runner discards what an aborted effect reports; the provider's part is to cancel the command.
    const outcome = await run.outcome.catch((err: unknown) => err);
    expect(JSON.stringify(outcome)).not.toContain("step-succeeded");
    await until(() => moto.ssm.cancels.length === 1);
    expect(moto.ssm.cancels[0]).toMatchObject({ commandId: run.sent()[0]?.commandId, ids });
    expect(moto.ssm.count("SendCommand")).toBe(1);
  }, 30_000);

  it("an engine that stops cleanly during a hook leaves the command running, and the next engine polls it to its end", async () => {
    moto.ssm.hooks = () => ({ durationMs: 3_000 });
    const ids = estate.ids.slice(0, 2);
    const controller = new AbortController();
    const run = runHookEffect(provider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 60_000 }, { signal: controller.signal });
    await until(() => run.sent().length === 1);
    // What the runner does when the engine stops (SIGTERM, lease lost): detach, not abort.
    controller.abort(new HookDetached());
    await run.outcome.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    expect(moto.ssm.cancels).toEqual([]);
    const resumed = await runHookEffect(provider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 60_000 }, { resumed: true, sentCommands: run.sent() }).outcome;
    expect(resumed.type).toBe("step-succeeded");
    expect(moto.ssm.count("SendCommand")).toBe(1);
    expect(moto.ssm.cancels).toEqual([]);
  }, 30_000);

  it("a hook past its timeout is cancelled (CancelCommand) and the step fails", async () => {
    moto.ssm.hooks = () => ({ durationMs: 20_000 });
    const ids = estate.ids.slice(0, 2);
    const outcome = await runHookEffect(provider(), { lb: LB, hook: "stop", ids, version: "1.0.0", timeoutMs: 1_500 }).outcome;
    expect(outcome.type).toBe("step-failed");
    if (outcome.type === "step-failed") expect(outcome.results.every((r) => !r.ok && /timed out after 1500 ms; command \S+ cancelled/.test(r.outputTail ?? ""))).toBe(true);
    expect(moto.ssm.cancels).toEqual([expect.objectContaining({ commandId: moto.ssm.sent[0]?.commandId, ids })]);
    expect(moto.ssm.count("SendCommand")).toBe(1);
  }, 30_000);

  it("a SendCommand whose answer was lost is found by its Comment and not sent again", async () => {
    const ids = estate.ids.slice(0, 2);
    moto.ssm.outage(["SendCommand"], 60_000, "lost");
    const outcome = await runHookEffect(provider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 20_000 }).outcome;
    expect(outcome.type).toBe("step-succeeded");
    expect(moto.ssm.count("SendCommand")).toBe(1);
    expect(moto.ssm.sent).toHaveLength(1);
    expect(moto.ssm.count("ListCommands")).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it("a SendCommand refused (503) is looked for, then sent again: one command runs", async () => {
    const ids = estate.ids.slice(0, 2);
    moto.ssm.outage(["SendCommand"], 400, "503");
    const run = runHookEffect(provider(), { lb: LB, hook: "deploy", ids, version: "2.0.0", timeoutMs: 20_000 });
    const outcome = await run.outcome;
    expect(outcome.type).toBe("step-succeeded");
    expect(moto.ssm.count("SendCommand")).toBeGreaterThanOrEqual(2);
    expect(moto.ssm.sent).toHaveLength(1);
    expect(run.sent()).toEqual([{ commandId: moto.ssm.sent[0]?.commandId, ids }]);
  }, 30_000);
});
