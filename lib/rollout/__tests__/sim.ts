/**
 * A small simulated world for property tests: a load balancer and servers that answer the state
 * machine's effects (with random failures and timeouts), random health changes outside the batch,
 * and a random operator (approve, pause, resume, retry, skip, abort, rollback, and plain wrong events).
 * Everything is seeded, so a failing case replays exactly.
 */
import { createRollout, transition } from "../machine";
import { planRollout } from "../plan";
import { getInstance, listInstances, type RolloutState } from "../state";
import { DEFAULT_THRESHOLDS } from "../../analysis";
import type { Effect, EngineEvent, FleetInstance, InstanceStepResult, OperatorEvent, PlanOptions, RolloutEvent } from "../types";

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorldInstance {
  registered: boolean;
  up: boolean;
  /** Unhealthy for reasons outside the rollout (the environment). */
  sick: boolean;
  version: string | null;
  /** Stopped since its last successful verify (so not known healthy). */
  disturbed: boolean;
}

export interface SimParams {
  seed: number;
  size: number;
  zones: number;
  sickRate: number;
  /** Percent of the fleet per batch (raised so there are at most `maxBatches`). */
  batchPercent: number;
  minHealthy: "default" | { unit: "count" | "percent"; value: number };
  canary: boolean;
  auto: boolean;
  failRate: number;
  noiseRate: number;
  healthRate: number;
  maxBatches: number;
  maxEvents: number;
  /** Batch analysis on, with this policy for a failed verdict (verdicts are random). */
  analysis?: "pause" | "rollback";
}

export interface Violation {
  what: string;
  state: RolloutState;
}

export type Check =
  | { kind: "effect"; fn: (effect: Effect, world: Map<string, WorldInstance>, s: RolloutState) => string | null }
  | { kind: "state"; fn: (s: RolloutState, world: Map<string, WorldInstance>) => string | null }
  | { kind: "rejected"; fn: (before: RolloutState, beforeJson: string, after: RolloutState) => string | null };

export interface SimResult {
  state: RolloutState;
  world: Map<string, WorldInstance>;
  events: number;
  rejected: number;
  violations: string[];
  planRefused?: string;
}

export function worldInService(world: Map<string, WorldInstance>): number {
  let n = 0;
  for (const w of world.values()) if (w.registered && w.up && !w.sick) n++;
  return n;
}

/** Freeze a state deeply; stops at objects already frozen (shared with an earlier state). */
export function deepFreeze<T>(x: T): T {
  if (x === null || typeof x !== "object" || Object.isFrozen(x)) return x;
  Object.freeze(x);
  for (const v of Object.values(x as object)) deepFreeze(v);
  return x;
}

export function simulate(p: SimParams, checks: Check[]): SimResult {
  const random = rng(p.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const fleet: FleetInstance[] = Array.from({ length: p.size }, (_, i) => ({
    id: `i-${i}`,
    zone: `z${i % p.zones}`,
    state: random() < p.sickRate ? "out-of-service" : "in-service",
    version: random() < 0.2 ? "v0" : "v1",
  }));
  const pct = Math.max(p.batchPercent, Math.ceil(100 / p.maxBatches));
  const options: PlanOptions = { version: "v2", batchSize: { unit: "percent", value: pct }, canary: p.canary, includeOutOfService: true };
  if (p.minHealthy !== "default") options.minHealthy = p.minHealthy;
  const planned = planRollout(fleet, options);
  const world = new Map<string, WorldInstance>(
    fleet.map((f) => [f.id, { registered: true, up: true, sick: f.state !== "in-service", version: f.version, disturbed: false }]),
  );
  if (!planned.ok) {
    return { state: null as unknown as RolloutState, world, events: 0, rejected: 0, violations: [], planRefused: planned.error.code };
  }
  let s = createRollout({
    id: "sim",
    lb: "sim",
    plan: planned.plan,
    mode: p.auto ? { kind: "auto", bakeMs: 5_000 } : { kind: "manual" },
    drainTimeoutMs: 1_000,
    createdAt: 0,
    createdBy: "sim",
    ...(p.analysis ? { analysis: { windowMs: 10_000, thresholds: DEFAULT_THRESHOLDS, onFail: p.analysis, alarms: [] } } : {}),
  });
  deepFreeze(s);
  const violations: string[] = [];
  let t = 1;
  let events = 0;
  let rejected = 0;
  const ids = fleet.map((f) => f.id);

  const send = (e: OperatorEvent | EngineEvent, actor = "sim"): boolean => {
    t += 1 + Math.floor(random() * 50);
    const ev = { ...e, at: t, actor } as RolloutEvent;
    // Every state is deeply frozen, so any mutation throws; the JSON comparison is for small fleets.
    const beforeJson = p.size <= 40 && checks.some((c) => c.kind === "rejected") ? JSON.stringify(s) : "";
    const before = s;
    const r = transition(s, ev);
    events++;
    if (!r.ok) {
      rejected++;
      for (const c of checks) if (c.kind === "rejected") pushIf(c.fn(before, beforeJson, r.state), `${e.type} rejected`);
      return false;
    }
    s = deepFreeze(r.state);
    for (const c of checks) if (c.kind === "state") pushIf(c.fn(s, world), `after ${e.type}`);
    // effects are judged against the world as it is when the machine issues them
    for (const c of checks) if (c.kind === "effect") for (const x of r.effects) pushIf(c.fn(x, world, s), `effect ${x.effectId}`);
    return true;
  };
  const pushIf = (msg: string | null, ctx: string) => {
    if (msg !== null && violations.length < 5) violations.push(`${msg} (${ctx}, event ${events}, phase ${s.phase})`);
  };

  const inBatch = (id: string) => {
    const i = getInstance(s, id);
    return i !== undefined && (i.status === "running" || i.status === "failed");
  };

  const answer = (e: Effect) => {
    if (e.type === "awaitApproval") {
      send({ type: "approve", batch: random() < 0.1 ? e.batch - 1 : e.batch }, "operator");
      return;
    }
    if (e.type === "sleep") {
      if (random() < 0.5) {
        t = Math.max(t, e.until);
        send({ type: "tick" }, "engine");
      } else send({ type: "continue-now" }, "operator");
      return;
    }
    if (random() < 0.3) send({ type: "step-started", effectId: e.effectId }, "engine");
    if (e.type === "analyze") {
      const verdict = pick(["pass", "pass", "fail", "inconclusive"] as const);
      t += e.windowMs;
      const analysis = { verdict, reasons: [`simulated ${verdict}`], checks: [], fresh: null, old: null, thresholds: e.thresholds, from: t - e.windowMs, to: t, freshIds: e.fresh, oldIds: e.old };
      send({ type: "analysis-finished", effectId: e.effectId, analysis }, "engine");
      return;
    }
    // a timeout names some of the effect's instances (none named: all of them); the others succeeded
    const timeout = random() < p.failRate / 3;
    const named = timeout ? e.ids.filter(() => random() < 0.5) : [];
    const timedOut = new Set(timeout ? (named.length > 0 ? named : e.ids) : []);
    const results: InstanceStepResult[] = [];
    for (const id of e.ids) {
      const w = world.get(id);
      // a stop that was attempted, even one that timed out, leaves the server not known healthy
      if (w && e.type === "runHook" && e.hook === "stop") w.disturbed = true;
      if (!w || timedOut.has(id)) continue;
      const injected = !timeout && random() < p.failRate;
      let ok = !injected;
      switch (e.type) {
        case "deregister":
          if (ok) w.registered = false;
          break;
        case "register":
          if (ok) w.registered = true;
          break;
        case "waitDrain":
          break;
        case "waitInService":
          ok = ok && w.registered && w.up && !w.sick;
          break;
        case "runHook":
          if (e.hook === "stop") {
            w.up = false;
            w.disturbed = true;
          } else if (e.hook === "deploy") w.version = ok ? e.params.version : null;
          else if (e.hook === "start") {
            w.up = ok;
            w.sick = false;
          } else {
            ok = ok && w.up && w.version === e.params.version;
            if (ok) w.disturbed = false;
          }
          break;
      }
      results.push({ id, ok, exitCode: ok ? 0 : 1, outputTail: ok ? "" : "boom" });
    }
    if (timeout && results.every((r) => r.ok)) send({ type: "step-timed-out", effectId: e.effectId, ids: named, message: "timed out" }, "engine");
    else if (timeout) {
      for (const id of timedOut) results.push({ id, ok: false, message: "timed out" });
      send({ type: "step-failed", effectId: e.effectId, results, message: "failed" }, "engine");
    } else if (results.every((r) => r.ok)) send({ type: "step-succeeded", effectId: e.effectId, results }, "engine");
    else send({ type: "step-failed", effectId: e.effectId, results, message: "failed" }, "engine");
  };

  const noise = () => {
    const r = random();
    if (r < 0.1) {
      send({ type: "step-succeeded", effectId: pick(["f0:deregister#1", "f0:drain#9", "r0:deploy#1", "zz"]) }, "engine");
      return;
    }
    const event = pick<OperatorEvent>([
      { type: "start" },
      { type: "approve" },
      { type: "approve", batch: Math.floor(random() * 5) },
      { type: "pause" },
      { type: "resume" },
      { type: "abort" },
      { type: "rollback" },
      { type: "retry-step" },
      { type: "skip-instance", instanceId: random() < 0.2 ? "ghost" : pick(ids) },
      { type: "continue-now" },
    ]);
    // abort and rollback end the story; keep them rarer than the rest
    if ((event.type === "abort" || event.type === "rollback") && random() < 0.7) return;
    send(event, "operator");
  };

  const health = () => {
    const candidates = ids.filter((id) => !inBatch(id) && !(s.returning.includes(id) && s.phase === "aborting"));
    if (candidates.length === 0) return;
    const id = pick(candidates);
    const w = world.get(id);
    if (!w) return;
    w.sick = !w.sick;
    const lbState = w.registered && w.up && !w.sick ? "in-service" : "out-of-service";
    send({ type: "health-observed", states: { [id]: lbState } }, "engine");
  };

  const operatorDecides = () => {
    if (s.phase === "paused") {
      send({ type: "resume" }, "operator");
      return;
    }
    if (s.phase === "planned") {
      send({ type: "start" }, "operator");
      return;
    }
    if (s.phase === "failed-awaiting-operator") {
      const f = s.failure;
      const r = random();
      if (f?.kind === "capacity") {
        // heal the environment now and then, so capacity recovers
        for (const [id, w] of world) {
          if (w.sick && !inBatch(id) && random() < 0.5) {
            w.sick = false;
            send({ type: "health-observed", states: { [id]: w.registered && w.up ? "in-service" : "out-of-service" } }, "engine");
          }
        }
      }
      if (r < 0.6) send({ type: "retry-step" }, "operator");
      else if (r < 0.8 && f && f.ids.length > 0) send({ type: "skip-instance", instanceId: pick(f.ids) }, "operator");
      else if (r < 0.9) send({ type: "rollback" }, "operator");
      else send({ type: "abort" }, "operator");
    }
  };

  send({ type: "start" }, "operator");
  let rolledBackAfterAbort = false;
  while (events < p.maxEvents) {
    if (s.phase === "succeeded" || s.phase === "rolled-back") break;
    if (s.phase === "aborted") {
      if (rolledBackAfterAbort || random() < 0.5) break;
      rolledBackAfterAbort = true;
      send({ type: "rollback" }, "operator");
      continue;
    }
    const r = random();
    if (r < 0.02) send({ type: "pause" }, "operator"); // often refused; when accepted, paused at the next boundary
    else if (r < p.noiseRate) noise();
    else if (r < p.noiseRate + p.healthRate) health();
    else {
      const e = s.outstanding[0];
      if (e) answer(e);
      else operatorDecides();
    }
  }
  for (const c of checks) if (c.kind === "state") pushIf(c.fn(s, world), "final");
  return { state: s, world, events, rejected, violations };
}

export { listInstances, getInstance };
