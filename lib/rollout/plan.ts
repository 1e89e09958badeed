/**
 * The batch planner: splits a fleet into ordered batches, or refuses a plan that is impossible or unsafe.
 * Pure arithmetic, no I/O; the same fleet and options always give the same plan.
 *
 * Rules
 * - Batch size is a count (a whole number, 1 to fleet size) or a percent (1 to 100) of the fleet.
 *   A percent rounds **up**, and is never less than 1: 10% of 5 is 1, 30% of 5 is 2, 100% of 5 is 5.
 * - `minHealthy` is a count (0 to fleet size) or a percent (0 to 100) of the fleet; a percent also
 *   rounds **up**, because it is a safety floor: 50% of 5 keeps 3 in service, not 2.
 *   Default: max(1, fleet size minus batch size) (5 instances in batches of 2 keep at least 3 in service).
 * - Never the whole fleet by default: a plan leaves at least one instance in service unless `minHealthy`
 *   is the count 0, given explicitly (the operator's "take the whole load balancer out" choice). A
 *   percent never resolves below 1 (0% keeps 1), and an omitted minHealthy is at least 1; a batch that
 *   would leave none in service is refused as NO_CAPACITY_LEFT, shown in the batch-size field when
 *   minHealthy was omitted (the batch size is what to change), else in the minHealthy field.
 * - While batch i is out of rotation, the instances in service are those updated by earlier batches
 *   (they came back through wait-in-service) plus the not-yet-updated ones that were in service at the
 *   start. Every batch must keep at least `minHealthy` in service, or the plan is refused.
 * - Default order: instances not in service at the start first (taking them out costs no capacity),
 *   then the in-service ones spread across zones (round-robin by zone, see spreadAcrossZones), so each
 *   batch mixes zones and a zone gives up its last not-yet-updated instance only when no other zone
 *   has two or more left.
 * - Canary: the first batch holds exactly one instance (the first of the order); the rest follow in
 *   batches of the batch size. The last batch may be smaller.
 *
 * Worked examples (zones a, b, c; every instance in service)
 * - 5 instances a1 a2 b1 b2 c1, batch 2:   [a1 b1] [c1 a2] [b2], minHealthy 3, in service during: 3, 3, 4.
 * - same, batch 40%:                        40% of 5 = 2, the same plan.
 * - same, batch 1, canary:                  [a1] [b1] [c1] [a2] [b2] (batch 1 is the canary), minHealthy 4.
 * - same, batch 2, minHealthy 4:            refused, MIN_HEALTHY_UNREACHABLE: batch 1 leaves 3 of 5 in service.
 * - same, batch 6:                          refused, BATCH_SIZE_TOO_LARGE: "batch size 6 is larger than the fleet (5 instances)".
 * - same, batch 100%:                       refused, NO_CAPACITY_LEFT (batchSize): minHealthy defaults to 1, batch 1 leaves 0.
 * - same, batch 100%, minHealthy 0%:        refused, NO_CAPACITY_LEFT (minHealthy): 0% keeps 1.
 * - same, batch 100%, minHealthy count 0:   [a1 b1 c1 a2 b2], in service during: 0 (the operator's explicit choice).
 * - 1 instance, batch 1:                    refused, NO_CAPACITY_LEFT; only minHealthy count 0 updates a fleet of one.
 */
import {
  VERSION_PATTERN,
  type FleetInstance,
  type PlanError,
  type PlanOptions,
  type PlanResult,
  type PlannedBatch,
  type PlannedInstance,
  type Quantity,
} from "./types";

/** `ceil` that ignores floating-point dust: 10 × 33.3 / 100 is 3.33 → 4, but 3.0000000000000004 → 3. */
function ceilClean(x: number): number {
  return Math.ceil(Math.round(x * 1e9) / 1e9);
}

/**
 * A count as given, or a percent of `total` rounded up.
 * resolveQuantity({ unit: "percent", value: 30 }, 5) === 2; resolveQuantity({ unit: "count", value: 3 }, 5) === 3.
 */
export function resolveQuantity(q: Quantity, total: number): number {
  return q.unit === "count" ? q.value : ceilClean((total * q.value) / 100);
}

/** Batch size in instances: a percent rounds up and is at least 1 (1% of 5 is 1). */
export function resolveBatchSize(q: Quantity, fleetSize: number): number {
  return q.unit === "count" ? q.value : Math.max(1, resolveQuantity(q, fleetSize));
}

/**
 * minHealthy in instances; a percent rounds up (a safety floor) and is at least 1. Default: max(1, fleet
 * size minus batch size). Only `{ unit: "count", value: 0 }` resolves to 0.
 */
export function resolveMinHealthy(q: Quantity | undefined, fleetSize: number, batchSize: number): number {
  if (q === undefined) return Math.max(1, fleetSize - batchSize);
  return q.unit === "percent" ? Math.max(1, resolveQuantity(q, fleetSize)) : q.value;
}

/** "i-1, i-2, i-3 and 4 more" */
export function listIds(ids: readonly string[], max = 3): string {
  const shown = ids.slice(0, max).join(", ");
  return ids.length > max ? `${shown} and ${ids.length - max} more` : shown;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** "the only instance", "all 5 instances", "2 instances" */
function taken(n: number, fleetSize: number): string {
  if (n < fleetSize) return plural(n, "instance");
  return fleetSize === 1 ? "the only instance" : `all ${fleetSize} instances`;
}

function fail(code: PlanError["code"], field: PlanError["field"], message: string): PlanResult {
  return { ok: false, error: { code, field, message } };
}

function checkBatchSize(q: Quantity, fleetSize: number): PlanResult | null {
  if (q.unit === "percent") {
    if (!Number.isFinite(q.value) || q.value < 1 || q.value > 100) {
      return fail("PERCENT_OUT_OF_RANGE", "batchSize", `Batch size ${q.value}% is outside 1–100%`);
    }
    return null;
  }
  const v = q.value;
  if (!Number.isInteger(v)) return fail("BATCH_SIZE_NOT_INTEGER", "batchSize", `Batch size ${v} is not a whole number`);
  if (v < 0) return fail("BATCH_SIZE_NEGATIVE", "batchSize", `Batch size ${v} is negative`);
  if (v === 0) return fail("BATCH_SIZE_ZERO", "batchSize", "Batch size 0 would never update anything: use at least 1");
  if (v > fleetSize) {
    return fail("BATCH_SIZE_TOO_LARGE", "batchSize", `batch size ${v} is larger than the fleet (${plural(fleetSize, "instance")})`);
  }
  return null;
}

function checkMinHealthy(q: Quantity | undefined, fleetSize: number): PlanResult | null {
  if (q === undefined) return null;
  if (q.unit === "percent") {
    if (!Number.isFinite(q.value) || q.value < 0 || q.value > 100) {
      return fail("PERCENT_OUT_OF_RANGE", "minHealthy", `Minimum healthy ${q.value}% is outside 0–100%`);
    }
    return null;
  }
  const v = q.value;
  if (!Number.isInteger(v)) return fail("MIN_HEALTHY_INVALID", "minHealthy", `Minimum healthy ${v} is not a whole number`);
  if (v < 0) return fail("MIN_HEALTHY_INVALID", "minHealthy", `Minimum healthy ${v} is negative`);
  if (v > fleetSize) {
    return fail("MIN_HEALTHY_INVALID", "minHealthy", `Minimum healthy ${v} is larger than the fleet (${plural(fleetSize, "instance")})`);
  }
  return null;
}

function checkOrder(order: readonly string[], byId: ReadonlyMap<string, FleetInstance>): PlanResult | null {
  const seen = new Set<string>();
  for (const id of order) {
    if (!byId.has(id)) return fail("ORDER_UNKNOWN_ID", "order", `Instance ${id} in the order is not in the fleet`);
    if (seen.has(id)) return fail("ORDER_DUPLICATE_ID", "order", `Instance ${id} appears twice in the order`);
    seen.add(id);
  }
  if (seen.size < byId.size) {
    const missing = [...byId.keys()].filter((id) => !seen.has(id));
    return fail(
      "ORDER_INCOMPLETE",
      "order",
      `The order leaves out ${missing.length} of ${plural(byId.size, "instance")} (${listIds(missing)}): list every instance once`,
    );
  }
  return null;
}

/**
 * Zone spread: round-robin over the zones (in name order), taking one instance per zone per turn,
 * except that a zone's last instance is held back while another zone still has two or more left.
 * Consecutive picks therefore rotate through the zones (each batch mixes them), and no zone gives up
 * its last not-yet-updated instance while others still have several.
 *   a:[a1,a2] b:[b1,b2] c:[c1]     → a1 b1 c1 a2 b2
 *   a:[a1..a4] b:[b1,b2] c:[c1]    → a1 b1 (c1 held: a has 3) a2 (b2 held) a3 b2 c1 a4
 *   a:[a1,a2,a3] b:[b1]            → a1 (b1 held) a2 a3 b1
 */
export function spreadAcrossZones(instances: readonly FleetInstance[]): FleetInstance[] {
  const byZone = new Map<string, FleetInstance[]>();
  for (const inst of instances) {
    const list = byZone.get(inst.zone);
    if (list) list.push(inst);
    else byZone.set(inst.zone, [inst]);
  }
  const queues = [...byZone.keys()].sort().map((z) => byZone.get(z) ?? []);
  const left = queues.map((q) => q.length);
  const out: FleetInstance[] = [];
  let z = 0;
  while (out.length < instances.length) {
    const mine = left[z] ?? 0;
    const queue = queues[z];
    if (mine > 0 && queue !== undefined) {
      const heldBack = mine === 1 && left.some((n, other) => other !== z && n >= 2);
      if (!heldBack) {
        const next = queue[queue.length - mine];
        if (next !== undefined) out.push(next);
        left[z] = mine - 1;
      }
    }
    z = (z + 1) % queues.length;
  }
  return out;
}

/**
 * Plan a rollout, or refuse it with a code, the form field it belongs to, and a message naming the numbers.
 * Checks run in this order: fleet (empty, duplicate ids), version, batch size, minHealthy, order,
 * instances not in service, then capacity per batch (MIN_HEALTHY_UNREACHABLE).
 */
export function planRollout(fleet: readonly FleetInstance[], options: PlanOptions): PlanResult {
  const fleetSize = fleet.length;
  if (fleetSize === 0) return fail("EMPTY_FLEET", "fleet", "The load balancer has no instances to roll out to");
  const byId = new Map<string, FleetInstance>();
  for (const inst of fleet) {
    if (byId.has(inst.id)) return fail("FLEET_DUPLICATE_ID", "fleet", `The fleet lists instance ${inst.id} twice`);
    byId.set(inst.id, inst);
  }
  if (typeof options.version !== "string" || !VERSION_PATTERN.test(options.version)) {
    const v = String(options.version);
    const shown = v.length > 40 ? `${v.slice(0, 40)}…` : v;
    return fail(
      "INVALID_VERSION",
      "version",
      `Version "${shown}" (${plural(v.length, "character")}) is not allowed: use only letters, digits and . _ - + (1–128 characters)`,
    );
  }
  const batchError = checkBatchSize(options.batchSize, fleetSize);
  if (batchError) return batchError;
  const minError = checkMinHealthy(options.minHealthy, fleetSize);
  if (minError) return minError;
  if (options.order !== undefined) {
    const orderError = checkOrder(options.order, byId);
    if (orderError) return orderError;
  }
  const notInService = fleet.filter((i) => i.state !== "in-service");
  if (notInService.length > 0 && !options.includeOutOfService) {
    return fail(
      "INSTANCES_NOT_IN_SERVICE",
      "fleet",
      `${notInService.length} of ${plural(fleetSize, "instance")} ${notInService.length === 1 ? "is" : "are"} not in service ` +
        `(${listIds(notInService.map((i) => i.id))}): wait until they recover, or include them on purpose`,
    );
  }

  const batchSize = resolveBatchSize(options.batchSize, fleetSize);
  const minHealthy = resolveMinHealthy(options.minHealthy, fleetSize, batchSize);

  const ordered: FleetInstance[] =
    options.order !== undefined
      ? options.order.map((id) => byId.get(id) as FleetInstance)
      : [...spreadAcrossZones(notInService), ...spreadAcrossZones(fleet.filter((i) => i.state === "in-service"))];

  const batches: PlannedBatch[] = [];
  let inServiceAhead = fleet.reduce((n, i) => n + (i.state === "in-service" ? 1 : 0), 0); // not yet updated, in service
  let updated = 0;
  let pos = 0;
  while (pos < ordered.length) {
    const size = options.canary && batches.length === 0 ? 1 : batchSize;
    const members = ordered.slice(pos, pos + size);
    const inBatchInService = members.reduce((n, i) => n + (i.state === "in-service" ? 1 : 0), 0);
    const inServiceDuring = updated + inServiceAhead - inBatchInService;
    const index = batches.length;
    if (inServiceDuring <= 0 && minHealthy > 0) {
      return fail(
        "NO_CAPACITY_LEFT",
        options.minHealthy === undefined ? "batchSize" : "minHealthy",
        `Batch ${index + 1} takes ${taken(members.length, fleetSize)} out, ` +
          `leaving none in service: lower the batch size, or set min healthy to the count 0 to take the whole load balancer out of service on purpose`,
      );
    }
    if (inServiceDuring < minHealthy) {
      const down = fleetSize - inServiceDuring - members.length;
      return fail(
        "MIN_HEALTHY_UNREACHABLE",
        "minHealthy",
        `Minimum healthy ${minHealthy} cannot be kept: batch ${index + 1} takes ${plural(members.length, "instance")} out, ` +
          `leaving ${inServiceDuring} of ${fleetSize} in service` +
          (down > 0 ? ` (${down} other${down === 1 ? " is" : "s are"} not in service)` : "") +
          `; lower the batch size or the minimum`,
      );
    }
    batches.push({
      index,
      instanceIds: members.map((i) => i.id),
      zones: members.map((i) => i.zone),
      canary: options.canary === true && index === 0,
      inServiceDuring,
    });
    inServiceAhead -= inBatchInService;
    updated += members.length;
    pos += members.length;
  }

  const instances: PlannedInstance[] = ordered.map((i) => ({
    id: i.id,
    zone: i.zone,
    fromVersion: i.version,
    inServiceAtStart: i.state === "in-service",
    ...(i.alsoIn && i.alsoIn.length > 0 ? { alsoIn: [...i.alsoIn].sort() } : {}),
    ...(i.versionSource ? { versionSource: i.versionSource } : {}),
  }));
  return {
    ok: true,
    plan: { targetVersion: options.version, fleetSize, batchSize, minHealthy, instances, batches },
  };
}
