/**
 * The local fleet loses no request: under ~200 req/s of keep-alive traffic (a quarter slow, 0.5–3 s),
 * the proper procedure on each of 5 instances drops nothing, while the naive one (stop without
 * deregistering) does — proof that the harness sees failures. Real processes throughout.
 */
import { afterAll, beforeAll, describe, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import { expectZeroDrop, hook, zeroDropRun } from "./procedure";

const RPS = 200;
let fleet: LocalFleetHandle;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-zero-drop-"));
  fleet = await startLocalFleet({ instances: 5, dataDir, trafficRps: RPS, slowFraction: 0.25, drainTimeoutMs: 30_000 });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("zero-drop rolling deploy on the local fleet", () => {
  it("baseline, naive control, then the proper procedure on all 5 instances", async () => {
    const run = await zeroDropRun(fleet, {
      rps: RPS,
      label: "zero-drop",
      batches: [1, 2, 3, 4, 5].map((i) => [`i-local-${i}`]),
      // Naive control: stop i-local-1 while it is still registered.
      naiveStop: async () => void (await hook(fleet.provider, fleet.lbName, "i-local-1", "stop", "1.0.0")),
    });
    await expectZeroDrop(fleet, run, RPS);
  }, 120_000);
});
