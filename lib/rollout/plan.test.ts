import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planRollout, resolveBatchSize, resolveMinHealthy, resolveQuantity, spreadAcrossZones } from "./plan";
import type { FleetInstance, LbState, PlanErrorCode, PlanOptions, RolloutPlan } from "./types";

/** n instances named `${zone}${k}` across the given zones, round the zones in turn. */
function fleetOf(n: number, zones: string[] = ["a", "b", "c"], state: LbState = "in-service"): FleetInstance[] {
  const count: Record<string, number> = {};
  return Array.from({ length: n }, (_, i) => {
    const zone = zones[i % zones.length] ?? "a";
    count[zone] = (count[zone] ?? 0) + 1;
    return { id: `${zone}${count[zone]}`, zone, state, version: "v1" };
  });
}

function zoned(spec: Record<string, number>): FleetInstance[] {
  return Object.entries(spec).flatMap(([zone, n]) =>
    Array.from({ length: n }, (_, k) => ({ id: `${zone}${k + 1}`, zone, state: "in-service" as const, version: "v1" })),
  );
}

const count = (value: number) => ({ unit: "count" as const, value });
const percent = (value: number) => ({ unit: "percent" as const, value });

function mustPlan(fleet: FleetInstance[], options: PlanOptions): RolloutPlan {
  const r = planRollout(fleet, options);
  if (!r.ok) throw new Error(`expected a plan, got ${r.error.code}: ${r.error.message}`);
  return r.plan;
}

describe("planRollout: plans", () => {
  const cases: Array<{
    name: string;
    fleet: FleetInstance[];
    options: Omit<PlanOptions, "version">;
    batches: string[][];
    minHealthy: number;
    inServiceDuring?: number[];
  }> = [
    {
      name: "fleet of 1, batch 1, minHealthy count 0 given explicitly",
      fleet: fleetOf(1),
      options: { batchSize: count(1), minHealthy: count(0) },
      batches: [["a1"]],
      minHealthy: 0,
      inServiceDuring: [0],
    },
    {
      name: "fleet of 2, batch 1, two zones",
      fleet: fleetOf(2, ["a", "b"]),
      options: { batchSize: count(1) },
      batches: [["a1"], ["b1"]],
      minHealthy: 1,
      inServiceDuring: [1, 1],
    },
    {
      name: "fleet of 5, batch 2, three zones",
      fleet: zoned({ a: 2, b: 2, c: 1 }),
      options: { batchSize: count(2) },
      batches: [["a1", "b1"], ["c1", "a2"], ["b2"]],
      minHealthy: 3,
      inServiceDuring: [3, 3, 4],
    },
    {
      name: "fleet of 5, batch 40% rounds to 2",
      fleet: zoned({ a: 2, b: 2, c: 1 }),
      options: { batchSize: percent(40) },
      batches: [["a1", "b1"], ["c1", "a2"], ["b2"]],
      minHealthy: 3,
    },
    {
      name: "fleet of 5, batch 1, canary",
      fleet: zoned({ a: 2, b: 2, c: 1 }),
      options: { batchSize: count(1), canary: true },
      batches: [["a1"], ["b1"], ["c1"], ["a2"], ["b2"]],
      minHealthy: 4,
    },
    {
      name: "fleet of 5, batch 10% rounds up to 1",
      fleet: fleetOf(5),
      options: { batchSize: percent(10) },
      batches: [["a1"], ["b1"], ["c1"], ["a2"], ["b2"]],
      minHealthy: 4,
    },
    {
      name: "fleet of 5, batch 100%, minHealthy count 0 given explicitly: everything at once",
      fleet: fleetOf(5),
      options: { batchSize: percent(100), minHealthy: count(0) },
      batches: [["a1", "b1", "c1", "a2", "b2"]],
      minHealthy: 0,
      inServiceDuring: [0],
    },
    {
      name: "fleet of 5, minHealthy 50% rounds up to 3",
      fleet: fleetOf(5),
      options: { batchSize: count(2), minHealthy: percent(50) },
      batches: [["a1", "b1"], ["c1", "a2"], ["b2"]],
      minHealthy: 3,
    },
    {
      name: "fleet of 5, batch 4, no minHealthy: the default keeps 1 in service",
      fleet: fleetOf(5),
      options: { batchSize: count(4) },
      batches: [["a1", "b1", "c1", "a2"], ["b2"]],
      minHealthy: 1,
      inServiceDuring: [1, 4],
    },
    {
      name: "fleet of 5, batch 2, minHealthy 0%: a percent keeps at least 1",
      fleet: fleetOf(5),
      options: { batchSize: count(2), minHealthy: percent(0) },
      batches: [["a1", "b1"], ["c1", "a2"], ["b2"]],
      minHealthy: 1,
    },
    {
      name: "fleet of 10, batch 25% rounds up to 3, last batch smaller",
      fleet: fleetOf(10, ["a", "b"]),
      options: { batchSize: percent(25) },
      batches: [
        ["a1", "b1", "a2"],
        ["b2", "a3", "b3"],
        ["a4", "b4", "a5"],
        ["b5"],
      ],
      minHealthy: 7,
      inServiceDuring: [7, 7, 7, 9],
    },
    {
      name: "fleet of 10, canary then batches of 3",
      fleet: fleetOf(10, ["a"]),
      options: { batchSize: count(3), canary: true, minHealthy: count(7) },
      batches: [["a1"], ["a2", "a3", "a4"], ["a5", "a6", "a7"], ["a8", "a9", "a10"]],
      minHealthy: 7,
    },
    {
      name: "uneven zones a:3 b:1, batch 1: b's only instance waits until a has one left",
      fleet: zoned({ a: 3, b: 1 }),
      options: { batchSize: count(1) },
      batches: [["a1"], ["a2"], ["b1"], ["a3"]],
      minHealthy: 3,
    },
    {
      name: "uneven zones a:4 b:2 c:1, batch 3: each batch mixes zones",
      fleet: zoned({ a: 4, b: 2, c: 1 }),
      options: { batchSize: count(3), minHealthy: count(4) },
      batches: [["a1", "b1", "a2"], ["a3", "b2", "c1"], ["a4"]],
      minHealthy: 4,
    },
    {
      name: "explicit order is kept as given",
      fleet: fleetOf(4, ["a", "b"]),
      options: { batchSize: count(2), order: ["b2", "a2", "b1", "a1"] },
      batches: [["b2", "a2"], ["b1", "a1"]],
      minHealthy: 2,
    },
    {
      name: "out-of-service instances included go first (they cost no capacity)",
      fleet: [...fleetOf(4, ["a", "b"]), { id: "c1", zone: "c", state: "out-of-service", version: "v1" }],
      options: { batchSize: count(1), includeOutOfService: true },
      batches: [["c1"], ["a1"], ["b1"], ["a2"], ["b2"]],
      minHealthy: 4,
      inServiceDuring: [4, 4, 4, 4, 4],
    },
  ];

  it.each(cases)("$name", ({ fleet, options, batches, minHealthy, inServiceDuring }) => {
    const plan = mustPlan(fleet, { version: "v2", ...options });
    expect(plan.batches.map((b) => b.instanceIds)).toEqual(batches);
    expect(plan.minHealthy).toBe(minHealthy);
    if (inServiceDuring) expect(plan.batches.map((b) => b.inServiceDuring)).toEqual(inServiceDuring);
    expect(plan.batches.map((b) => b.index)).toEqual(batches.map((_, i) => i));
    expect(plan.batches[0]?.canary).toBe(options.canary === true);
    expect(plan.instances.map((i) => i.id)).toEqual(batches.flat());
    expect(plan.targetVersion).toBe("v2");
  });

  it("fleet of 500 in 4 zones, batch 10%: 10 batches of 50, each holding 12 or 13 of every zone", () => {
    const plan = mustPlan(fleetOf(500, ["a", "b", "c", "d"]), { version: "v2", batchSize: percent(10) });
    expect(plan.batchSize).toBe(50);
    expect(plan.minHealthy).toBe(450);
    expect(plan.batches).toHaveLength(10);
    for (const b of plan.batches) {
      expect(b.instanceIds).toHaveLength(50);
      for (const z of ["a", "b", "c", "d"]) {
        const n = b.zones.filter((x) => x === z).length;
        expect(n === 12 || n === 13).toBe(true);
      }
    }
  });

  it("records where every instance comes from", () => {
    const fleet = fleetOf(3);
    fleet[1] = { ...fleet[1]!, version: null };
    const plan = mustPlan(fleet, { version: "v2", batchSize: count(1) });
    expect(plan.instances.find((i) => i.id === "b1")).toEqual({ id: "b1", zone: "b", fromVersion: null, inServiceAtStart: true });
  });
});

describe("planRollout: refusals", () => {
  const five = fleetOf(5);
  const cases: Array<{ name: string; fleet: FleetInstance[]; options: PlanOptions; code: PlanErrorCode; field: string; message: RegExp | string }> = [
    { name: "empty fleet", fleet: [], options: { version: "v2", batchSize: count(1) }, code: "EMPTY_FLEET", field: "fleet", message: /no instances/ },
    {
      name: "duplicate id in the fleet",
      fleet: [...fleetOf(2), { id: "a1", zone: "z", state: "in-service", version: "v1" }],
      options: { version: "v2", batchSize: count(1) },
      code: "FLEET_DUPLICATE_ID",
      field: "fleet",
      message: /a1 twice/,
    },
    { name: "version with a space", fleet: five, options: { version: "v 2", batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /letters, digits/ },
    { name: "version with shell characters", fleet: five, options: { version: "v2;rm -rf /", batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /not allowed/ },
    { name: "empty version", fleet: five, options: { version: "", batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /0 characters/ },
    { name: "version of 129 characters", fleet: five, options: { version: "v".repeat(129), batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /129 characters/ },
    { name: "batch size 0", fleet: five, options: { version: "v2", batchSize: count(0) }, code: "BATCH_SIZE_ZERO", field: "batchSize", message: /at least 1/ },
    { name: "batch size -1", fleet: five, options: { version: "v2", batchSize: count(-1) }, code: "BATCH_SIZE_NEGATIVE", field: "batchSize", message: "Batch size -1 is negative" },
    { name: "batch size 1.5", fleet: five, options: { version: "v2", batchSize: count(1.5) }, code: "BATCH_SIZE_NOT_INTEGER", field: "batchSize", message: /1.5 is not a whole number/ },
    {
      name: "batch size larger than the fleet",
      fleet: five,
      options: { version: "v2", batchSize: count(6) },
      code: "BATCH_SIZE_TOO_LARGE",
      field: "batchSize",
      message: "batch size 6 is larger than the fleet (5 instances)",
    },
    { name: "batch 0%", fleet: five, options: { version: "v2", batchSize: percent(0) }, code: "PERCENT_OUT_OF_RANGE", field: "batchSize", message: /0% is outside 1–100%/ },
    { name: "batch 101%", fleet: five, options: { version: "v2", batchSize: percent(101) }, code: "PERCENT_OUT_OF_RANGE", field: "batchSize", message: /101%/ },
    {
      name: "minHealthy 150%",
      fleet: five,
      options: { version: "v2", batchSize: count(1), minHealthy: percent(150) },
      code: "PERCENT_OUT_OF_RANGE",
      field: "minHealthy",
      message: /150%/,
    },
    {
      name: "minHealthy larger than the fleet",
      fleet: five,
      options: { version: "v2", batchSize: count(1), minHealthy: count(6) },
      code: "MIN_HEALTHY_INVALID",
      field: "minHealthy",
      message: "Minimum healthy 6 is larger than the fleet (5 instances)",
    },
    { name: "minHealthy -1", fleet: five, options: { version: "v2", batchSize: count(1), minHealthy: count(-1) }, code: "MIN_HEALTHY_INVALID", field: "minHealthy", message: /negative/ },
    {
      name: "minHealthy a batch would break",
      fleet: five,
      options: { version: "v2", batchSize: count(2), minHealthy: count(4) },
      code: "MIN_HEALTHY_UNREACHABLE",
      field: "minHealthy",
      message: "Minimum healthy 4 cannot be kept: batch 1 takes 2 instances out, leaving 3 of 5 in service; lower the batch size or the minimum",
    },
    {
      name: "minHealthy 100% with any batch",
      fleet: five,
      options: { version: "v2", batchSize: count(1), minHealthy: percent(100) },
      code: "MIN_HEALTHY_UNREACHABLE",
      field: "minHealthy",
      message: /Minimum healthy 5 cannot be kept: batch 1 takes 1 instance out, leaving 4 of 5/,
    },
    {
      name: "batch 100% with minHealthy omitted: never the whole fleet by default",
      fleet: five,
      options: { version: "v2", batchSize: percent(100) },
      code: "NO_CAPACITY_LEFT",
      field: "batchSize",
      message:
        "Batch 1 takes all 5 instances out, leaving none in service: lower the batch size, or set min healthy to the count 0 to take the whole load balancer out of service on purpose",
    },
    {
      name: "batch 5 of 5 with minHealthy 0%: a percent 0 does not mean 0",
      fleet: five,
      options: { version: "v2", batchSize: count(5), minHealthy: percent(0) },
      code: "NO_CAPACITY_LEFT",
      field: "minHealthy",
      message: /takes all 5 instances out, leaving none in service/,
    },
    {
      name: "fleet of 1 with minHealthy omitted",
      fleet: fleetOf(1),
      options: { version: "v2", batchSize: count(1) },
      code: "NO_CAPACITY_LEFT",
      field: "batchSize",
      message: /Batch 1 takes the only instance out, leaving none in service/,
    },
    { name: "version '.'", fleet: five, options: { version: ".", batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /not allowed/ },
    { name: "version '..'", fleet: five, options: { version: "..", batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /not allowed/ },
    { name: "version '--force'", fleet: five, options: { version: "--force", batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /not allowed/ },
    { name: "version '-rf'", fleet: five, options: { version: "-rf", batchSize: count(1) }, code: "INVALID_VERSION", field: "version", message: /not allowed/ },
    {
      name: "instances not in service",
      fleet: [...fleetOf(3), { id: "x1", zone: "a", state: "out-of-service", version: "v1" }, { id: "x2", zone: "b", state: "unknown", version: "v1" }],
      options: { version: "v2", batchSize: count(1) },
      code: "INSTANCES_NOT_IN_SERVICE",
      field: "fleet",
      message: "2 of 5 instances are not in service (x1, x2): wait until they recover, or include them on purpose",
    },
    {
      name: "included out-of-service instances still count against minHealthy",
      fleet: [...fleetOf(3), { id: "x1", zone: "a", state: "out-of-service", version: "v1" }, { id: "x2", zone: "b", state: "draining", version: "v1" }],
      options: { version: "v2", batchSize: count(1), includeOutOfService: true },
      code: "MIN_HEALTHY_UNREACHABLE",
      field: "minHealthy",
      message: /batch 1 takes 1 instance out, leaving 3 of 5 in service \(1 other is not in service\)/,
    },
    {
      name: "duplicate id in the order",
      fleet: fleetOf(3),
      options: { version: "v2", batchSize: count(1), order: ["a1", "b1", "a1"] },
      code: "ORDER_DUPLICATE_ID",
      field: "order",
      message: "Instance a1 appears twice in the order",
    },
    {
      name: "unknown id in the order",
      fleet: fleetOf(3),
      options: { version: "v2", batchSize: count(1), order: ["a1", "b1", "zz"] },
      code: "ORDER_UNKNOWN_ID",
      field: "order",
      message: "Instance zz in the order is not in the fleet",
    },
    {
      name: "order leaving instances out",
      fleet: fleetOf(3),
      options: { version: "v2", batchSize: count(1), order: ["a1"] },
      code: "ORDER_INCOMPLETE",
      field: "order",
      message: /leaves out 2 of 3 instances \(b1, c1\)/,
    },
  ];

  it.each(cases)("$name → $code", ({ fleet, options, code, field, message }) => {
    const r = planRollout(fleet, options);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(code);
    expect(r.error.field).toBe(field);
    if (typeof message === "string") expect(r.error.message).toBe(message);
    else expect(r.error.message).toMatch(message);
  });
});

describe("quantities", () => {
  it.each([
    { q: percent(30), total: 5, batch: 2, min: 2 },
    { q: percent(1), total: 5, batch: 1, min: 1 },
    { q: percent(33.3), total: 10, batch: 4, min: 4 },
    { q: percent(20), total: 5, batch: 1, min: 1 },
    { q: count(3), total: 5, batch: 3, min: 3 },
  ])("$q.value $q.unit of $total → batch $batch, minHealthy $min", ({ q, total, batch, min }) => {
    expect(resolveBatchSize(q, total)).toBe(batch);
    expect(resolveMinHealthy(q, total, batch)).toBe(min);
    expect(resolveQuantity(q, total)).toBe(min);
  });
  it("a minHealthy percent never resolves below 1; only the count 0 is 0", () => {
    expect(resolveQuantity(percent(0), 5)).toBe(0);
    expect(resolveMinHealthy(percent(0), 5, 1)).toBe(1);
    expect(resolveMinHealthy(percent(1), 5, 1)).toBe(1);
    expect(resolveMinHealthy(count(0), 5, 5)).toBe(0);
  });
  it("minHealthy defaults to fleet size minus batch size, and at least 1", () => {
    expect(resolveMinHealthy(undefined, 5, 2)).toBe(3);
    expect(resolveMinHealthy(undefined, 5, 5)).toBe(1);
    expect(resolveMinHealthy(undefined, 1, 1)).toBe(1);
  });
});

describe("planRollout properties", () => {
  const fleetArb = fc
    .array(fc.record({ zone: fc.constantFrom("a", "b", "c", "d"), healthy: fc.boolean() }), { minLength: 1, maxLength: 500 })
    .map((xs) => xs.map((x, i) => ({ id: `i-${i}`, zone: x.zone, state: (x.healthy ? "in-service" : "out-of-service") as LbState, version: "v1" })));

  it("covers every instance once, keeps minHealthy during every batch, and sizes batches as asked", () => {
    fc.assert(
      fc.property(fleetArb, fc.integer({ min: 1, max: 100 }), fc.boolean(), (fleet, pct, canary) => {
        const r = planRollout(fleet, { version: "v2", batchSize: percent(pct), canary, includeOutOfService: true, minHealthy: count(0) });
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const ids = r.plan.batches.flatMap((b) => b.instanceIds);
        expect(new Set(ids).size).toBe(fleet.length);
        expect(ids).toHaveLength(fleet.length);
        r.plan.batches.forEach((b, i) => {
          expect(b.instanceIds.length).toBeLessThanOrEqual(canary && i === 0 ? 1 : r.plan.batchSize);
          expect(b.inServiceDuring).toBeGreaterThanOrEqual(r.plan.minHealthy);
        });
        const strict = planRollout(fleet, { version: "v2", batchSize: percent(pct), canary, includeOutOfService: true });
        if (strict.ok) for (const b of strict.plan.batches) expect(b.inServiceDuring).toBeGreaterThanOrEqual(strict.plan.minHealthy);
        else expect(["MIN_HEALTHY_UNREACHABLE", "NO_CAPACITY_LEFT"]).toContain(strict.error.code);
        // Without an explicit count 0, no batch ever leaves the load balancer empty.
        if (strict.ok) for (const b of strict.plan.batches) expect(b.inServiceDuring).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 60 },
    );
  });

  it("spread: a zone gives up its last instance only when no zone has two or more left", () => {
    fc.assert(
      fc.property(fleetArb, (fleet) => {
        const order = spreadAcrossZones(fleet);
        expect(order.map((i) => i.id).sort()).toEqual(fleet.map((i) => i.id).sort());
        const left: Record<string, number> = {};
        for (const i of fleet) left[i.zone] = (left[i.zone] ?? 0) + 1;
        for (const inst of order) {
          if (left[inst.zone] === 1) expect(Math.max(...Object.values(left))).toBeLessThanOrEqual(1);
          left[inst.zone] = (left[inst.zone] ?? 0) - 1;
        }
      }),
      { numRuns: 100 },
    );
  });
});
