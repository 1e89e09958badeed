/**
 * Properties of the state machine over random fleets (1–500 instances, 1–4 zones, random health) and
 * random event sequences from a simulated world (lib/rollout/__tests__/sim.ts). Each property runs the
 * simulator with its own check; a violation fails with the seed and parameters to replay it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { listInstances, simulate, worldInService, type Check, type SimParams } from "./__tests__/sim";

const params: fc.Arbitrary<SimParams> = fc.record({
  seed: fc.integer(),
  size: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 500 })),
  zones: fc.integer({ min: 1, max: 4 }),
  sickRate: fc.constantFrom(0, 0, 0.05, 0.2),
  batchPercent: fc.integer({ min: 1, max: 100 }),
  minHealthy: fc.oneof(
    fc.constant("default" as const),
    fc.record({ unit: fc.constant("percent" as const), value: fc.integer({ min: 0, max: 80 }) }),
    fc.record({ unit: fc.constant("count" as const), value: fc.integer({ min: 0, max: 3 }) }),
  ),
  canary: fc.boolean(),
  auto: fc.boolean(),
  failRate: fc.constantFrom(0, 0.02, 0.1, 0.25),
  noiseRate: fc.constantFrom(0, 0.05, 0.2),
  healthRate: fc.constantFrom(0, 0.05, 0.15),
  maxBatches: fc.constant(8),
  maxEvents: fc.constant(1_200),
  analysis: fc.constantFrom(undefined, "pause" as const, "rollback" as const),
});

/** ROTOR_PROPERTY_RUNS=500 for a longer hunt; the default keeps the file well under 30 s. */
const RUNS = Number(process.env.ROTOR_PROPERTY_RUNS ?? 40);
/** Each property takes a second or two; the margin is for a busy shared machine. */
const TIMEOUT = 60_000;

/** Run the simulator over random parameters and fail with the first violation of `checks`. */
function holds(checks: Check[], runs = RUNS, onRun?: (r: ReturnType<typeof simulate>) => void) {
  fc.assert(
    fc.property(params, (p) => {
      const r = simulate(p, checks);
      if (r.planRefused) return;
      onRun?.(r);
      expect(r.violations).toEqual([]);
    }),
    { numRuns: runs },
  );
}

describe("rollout state machine properties", () => {
  it("never takes instances out of rotation below minHealthy (environmental failures aside)", () => {
    holds([
      {
        kind: "effect",
        fn: (e, world, s) => {
          if (e.type !== "deregister") return null;
          const taken = e.ids.filter((id) => {
            const w = world.get(id);
            return w !== undefined && w.registered && w.up && !w.sick;
          }).length;
          const left = worldInService(world) - taken;
          return left < s.plan.minHealthy ? `deregister ${e.effectId} leaves ${left} in service, minHealthy ${s.plan.minHealthy}` : null;
        },
      },
      {
        kind: "state",
        fn: (s, world) => {
          let serving = 0;
          for (const w of world.values()) if (w.registered && w.up) serving++; // sick ones count: the environment, not us
          return serving < s.plan.minHealthy ? `${serving} registered and up, minHealthy ${s.plan.minHealthy}` : null;
        },
      },
    ]);
  }, TIMEOUT);

  it("never deregisters an instance twice without a register between", () => {
    holds([
      {
        kind: "effect",
        fn: (e, world) => {
          if (e.type !== "deregister") return null;
          const twice = e.ids.filter((id) => world.get(id)?.registered === false);
          return twice.length > 0 ? `deregister ${e.effectId} of already deregistered ${twice.join(",")}` : null;
        },
      },
    ]);
  }, TIMEOUT);

  it("in succeeded, every instance runs the target version and is in service (skipped ones aside)", () => {
    let reached = 0;
    holds(
      [
        {
          kind: "state",
          fn: (s, world) => {
            if (s.phase !== "succeeded") return null;
            for (const i of listInstances(s)) {
              if (i.status === "skipped") continue;
              const w = world.get(i.id);
              if (i.status !== "done") return `${i.id} is ${i.status}`;
              if (!w || w.version !== s.plan.targetVersion || !w.registered || !w.up) return `${i.id} is not on ${s.plan.targetVersion} in service: ${JSON.stringify(w)}`;
              if (!i.inRotation && !w.sick) return `${i.id} believed out of rotation`;
            }
            return null;
          },
        },
      ],
      RUNS,
      (r) => {
        if (r.state.phase === "succeeded") reached++;
      },
    );
    expect(reached).toBeGreaterThan(0);
  }, TIMEOUT);

  it("in rolled-back, every touched instance runs its previous version and is in service (skipped ones aside)", () => {
    let reached = 0;
    holds(
      [
        {
          kind: "state",
          fn: (s, world) => {
            if (s.phase !== "rolled-back") return null;
            for (const i of listInstances(s)) {
              if (!i.touched || i.status === "skipped") continue;
              const w = world.get(i.id);
              if (!w || w.version !== i.fromVersion || !w.registered || !w.up) return `${i.id} is not back on ${i.fromVersion} in service: ${JSON.stringify(w)}`;
            }
            return null;
          },
        },
      ],
      RUNS,
      (r) => {
        if (r.state.phase === "rolled-back") reached++;
      },
    );
    expect(reached).toBeGreaterThan(0);
  }, TIMEOUT);

  it("in aborted, no healthy instance is left out of rotation (unless skipped, or its return failed)", () => {
    let reached = 0;
    holds(
      [
        {
          kind: "state",
          fn: (s, world) => {
            if (s.phase !== "aborted") return null;
            for (const i of listInstances(s)) {
              const w = world.get(i.id);
              if (!w || w.registered || !w.up || w.disturbed) continue;
              if (i.status === "skipped") continue;
              // Its return failed: abort's return run starts, verifies, registers and waits for in-service.
              const returnFailed = (["start", "verify", "register", "wait-in-service"] as const).some((st) => ["failed", "timed-out"].includes(i.steps[st].status));
              if (i.status === "failed" && returnFailed) continue;
              return `${i.id} is healthy but left out of rotation (${i.status} at ${i.step})`;
            }
            return null;
          },
        },
      ],
      RUNS,
      (r) => {
        if (r.state.phase === "aborted") reached++;
      },
    );
    expect(reached).toBeGreaterThan(0);
  }, TIMEOUT);

  it("every rejected event leaves the state unchanged (same object, deep-equal); no state is ever mutated", () => {
    let rejected = 0;
    holds(
      [
        {
          kind: "rejected",
          fn: (before, beforeJson, after) => {
            if (after !== before) return "a rejection returned a different state object";
            if (beforeJson !== "" && JSON.stringify(after) !== beforeJson) return "a rejection changed the state";
            return null;
          },
        },
      ],
      RUNS,
      (r) => {
        rejected += r.rejected;
      },
    );
    expect(rejected).toBeGreaterThan(0);
  }, TIMEOUT);

  it("keeps its own books: inService matches the instances believed in rotation; outstanding effects have unique ids, all of the stage in progress", () => {
    holds([
      {
        kind: "state",
        fn: (s) => {
          const n = listInstances(s).filter((i) => i.inRotation).length;
          if (n !== s.inService) return `inService ${s.inService} but ${n} instances believed in rotation`;
          const idsOut = s.outstanding.map((e) => e.effectId);
          if (new Set(idsOut).size !== idsOut.length) return `duplicate outstanding ${idsOut.join(",")}`;
          // One effect per version of the stage (several only in abort's return run over a mixed fleet).
          const stages = new Set(s.outstanding.map((e) => e.effectId.replace(/#\d+$/, "").replace(/^[a-z]+\d+:/, "")));
          if (stages.size > 1) return `effects of ${stages.size} stages outstanding at once: ${idsOut.join(",")}`;
          return null;
        },
      },
    ]);
  }, TIMEOUT);
});
