/**
 * One retry policy, counted over real HTTP: the SDK's adaptive retries below, the engine's one retry
 * loop above, nothing in between. A proxy in front of moto answers AWS's Throttling error for the
 * requests a test picks, and counts what reaches it. A deregister that AWS keeps throttling makes at
 * most engine attempts × SDK attempts requests (5 × 3 = 15 with the defaults), then fails the step.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Effect } from "@/lib/rollout/types";
import { performEffect, type EffectContext, type PerformableEffect } from "@/server/engine/effects";
import { DEFAULT_RETRY } from "@/server/engine/retry";
import { componentLog } from "@/server/log";
import { FleetMonitor } from "@/server/monitor";
import { parseAwsConfig } from "@/server/providers/aws";
import { createEstate, motoProvider, type Estate } from "@/server/providers/aws/__tests__/fixture";
import { startMoto, type MotoServer } from "@/server/testing/moto";
import { startThrottlingProxy, type ThrottlingProxy } from "@/server/testing/throttling-proxy";

const OP = "DeregisterInstancesFromLoadBalancer";
let moto: MotoServer;
let estate: Estate;

beforeAll(async () => {
  moto = await startMoto();
  estate = await createEstate(moto, { instances: 4, version: "1.0.0" });
}, 90_000);

afterAll(async () => {
  await moto?.stop();
});

/** Performs a deregister of one instance of `web` as the engine does, through a proxy that throttles the first `failures` deregisters. */
async function throttledDeregister(failures: number, id: string) {
  const proxy: ThrottlingProxy = await startThrottlingProxy(moto.endpoint, (op, n) => op === OP && n <= failures);
  const { provider } = motoProvider({ ...moto, endpoint: proxy.endpoint });
  const monitor = new FleetMonitor(provider);
  const notes: Record<string, unknown>[] = [];
  const ctx: EffectContext = {
    lb: "web",
    provider,
    monitor,
    signal: new AbortController().signal,
    log: componentLog("retry-bound-test"),
    startedAt: Date.now(),
    resumed: false,
    note: (type, payload) => notes.push({ type, ...payload }),
  };
  const effect: PerformableEffect = { type: "deregister", effectId: "f0:deregister#1", batch: 0, ids: [id] } satisfies Effect;
  try {
    const outcome = await performEffect(effect, ctx);
    return { outcome, requests: proxy.requests.get(OP) ?? 0, notes, warnings: provider.warnings() };
  } finally {
    monitor.stop();
    await provider.close();
    await proxy.close();
  }
}

describe("a throttled deregister against moto", () => {
  const sdkAttempts = parseAwsConfig({}).maxAttempts;

  it("uses the SDK's adaptive mode with 3 attempts and 5 engine attempts by default: at most 15 requests", () => {
    expect(parseAwsConfig({})).toMatchObject({ retryMode: "adaptive", maxAttempts: 3 });
    expect(DEFAULT_RETRY.attempts).toBe(5);
    expect(DEFAULT_RETRY.attempts * sdkAttempts).toBe(15);
  });

  it("gets through when AWS relents, the SDK retrying first and the engine once", async () => {
    // The SDK's three attempts are all throttled; the engine's second attempt is throttled once, then lands.
    const r = await throttledDeregister(sdkAttempts + 1, estate.ids[0]!);
    expect(r.outcome).toMatchObject({ type: "step-succeeded" });
    expect(r.requests).toBe(sdkAttempts + 2);
    expect(r.notes.filter((n) => n.type === "step-retry")).toHaveLength(1);
    expect(r.warnings.filter((w) => w.code === "THROTTLED").length).toBeGreaterThanOrEqual(sdkAttempts + 1);
  }, 60_000);

  it("stops at engine attempts × SDK attempts requests when AWS never relents, and fails the step saying so", async () => {
    const r = await throttledDeregister(Number.POSITIVE_INFINITY, estate.ids[1]!);
    expect(r.requests).toBe(DEFAULT_RETRY.attempts * sdkAttempts);
    expect(r.outcome).toMatchObject({ type: "step-failed", message: expect.stringMatching(/gave up after 5 attempts.*throttl/i) });
    expect(r.notes.filter((n) => n.type === "step-retry")).toHaveLength(DEFAULT_RETRY.attempts - 1);
  }, 120_000);
});
