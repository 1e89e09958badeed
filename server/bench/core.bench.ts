/**
 * The pure rollout core's speed: planning a 5,000-instance fleet, and applying events to the state machine.
 *
 * - plan_ms: median of 21 plans of 5,000 instances in 4 zones (batches of 5 %), after 10 warm-ups.
 * - transition_us: wall time per event over 1,000 events, driving full rollouts of a 5,000-instance
 *   fleet (batches of 1 % = 50) again and again: step-started and step-succeeded for every step, an
 *   approval per batch, and a drain / health observation per drain / wait. Creating each rollout is not
 *   timed; the small driver that picks the next event is, so the figure is on the safe side.
 *   Also with batches of 5 and of 500 (`_batch5`, `_batch500`), and each as CPU time (`transition_cpu_us…`),
 *   which a busy shared machine distorts less than wall time.
 *   A figure, not a target: the machine copies what an event changes (immer), and reading the whole
 *   fleet inside a handler (capacity checks) makes an event cost grow with the fleet's size.
 * - derive_ms: median derivePhase (message, progress, every action's guard) on that fleet in batch 41
 *   of 100, over 50 calls after 10 warm-ups.
 * Like plan_ms, transition figures are measured after a warm-up (200 events, untimed); the cold pass
 * is reported too, as `transition_cold_us` (500 events timed from the first).
 * Target (issue 2): plan under 20 ms.
 */
import { createRollout, derivePhase, planRollout, transition, type FleetInstance, type RolloutEvent, type RolloutPlan, type RolloutState } from "@/lib/rollout";

function fleet(n: number): FleetInstance[] {
  return Array.from({ length: n }, (_, i) => ({ id: `i-${i}`, zone: `zone-${i % 4}`, state: "in-service" as const, version: "v1" }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Median of 21 plans after 10 warm-ups (the JIT compiles the planner during those); logs the cold first one. */
function benchPlan(): number {
  const f = fleet(5_000);
  const times: number[] = [];
  for (let i = 0; i < 31; i++) {
    const t0 = performance.now();
    const r = planRollout(f, { version: "v2", batchSize: { unit: "percent", value: 5 } });
    const t1 = performance.now();
    if (!r.ok) throw new Error(`plan refused: ${r.error.message}`);
    if (i === 0) console.error(`core: first (cold) plan of 5,000 instances: ${(t1 - t0).toFixed(2)} ms`);
    if (i >= 10) times.push(t1 - t0);
  }
  return median(times);
}

function plan(n: number, batch: number): RolloutPlan {
  const r = planRollout(fleet(n), { version: "v2", batchSize: { unit: "count", value: batch } });
  if (!r.ok) throw new Error(r.error.message);
  return r.plan;
}

/** Drive rollouts until `total` events were applied; µs per event (wall and CPU) and the rollouts finished. */
function benchTransitions(p: RolloutPlan, total: number): { us: number; cpuUs: number; rollouts: number } {
  let applied = 0;
  let rollouts = 0;
  let wallMs = 0;
  let cpuUs = 0;
  let at = 1;
  while (applied < total) {
    let s: RolloutState = createRollout({ id: `r-${rollouts}`, lb: "bench", plan: p, mode: { kind: "manual" }, drainTimeoutMs: 1_000, createdAt: 0, createdBy: "bench" });
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const apply = (e: RolloutEvent) => {
      const r = transition(s, e);
      if (!r.ok) throw new Error(`bench event refused: ${r.rejection.message}`);
      s = r.state;
      applied++;
    };
    apply({ type: "start", at: at++, actor: "bench" });
    while (applied < total && s.phase !== "succeeded") {
      const e = s.outstanding[0];
      if (!e) throw new Error(`stuck in ${s.phase}`);
      if (e.type === "awaitApproval") {
        apply({ type: "approve", batch: e.batch, at: at++, actor: "bench" });
        continue;
      }
      if (e.type === "sleep" || e.type === "analyze") throw new Error(`no ${e.type} in this bench (manual mode, no analysis)`);
      apply({ type: "step-started", effectId: e.effectId, at: at++, actor: "engine" });
      const first = e.ids[0] ?? "";
      if (e.type === "waitDrain") apply({ type: "drain-observed", inFlight: { [first]: 3 }, at: at++, actor: "engine" });
      if (e.type === "waitInService") apply({ type: "health-observed", states: { [first]: "registering" }, at: at++, actor: "engine" });
      apply({ type: "step-succeeded", effectId: e.effectId, at: at++, actor: "engine" });
    }
    const c = process.cpuUsage(c0);
    cpuUs += c.user + c.system;
    wallMs += performance.now() - t0;
    if (s.phase === "succeeded") rollouts++;
  }
  return { us: (wallMs * 1000) / applied, cpuUs: cpuUs / applied, rollouts };
}

/** derivePhase on a 5,000-instance rollout in batches of 50, deploying batch 41. */
function benchDerive(): number {
  let s: RolloutState = createRollout({ id: "r-derive", lb: "bench", plan: plan(5_000, 50), mode: { kind: "manual" }, drainTimeoutMs: 1_000, createdAt: 0, createdBy: "bench" });
  let at = 1;
  const apply = (e: RolloutEvent) => {
    const r = transition(s, e);
    if (!r.ok) throw new Error(`bench event refused: ${r.rejection.message}`);
    s = r.state;
  };
  apply({ type: "start", at: at++, actor: "bench" });
  while (!(s.cursor.batch === 40 && s.cursor.stage === "deploy")) {
    const e = s.outstanding[0];
    if (!e) throw new Error(`stuck in ${s.phase}`);
    if (e.type === "awaitApproval") apply({ type: "approve", batch: e.batch, at: at++, actor: "bench" });
    else apply({ type: "step-succeeded", effectId: e.effectId, at: at++, actor: "engine" });
  }
  const times: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    derivePhase(s, at);
    if (i >= 10) times.push(performance.now() - t0);
  }
  return median(times);
}

export async function run(): Promise<Record<string, number>> {
  const planMs = benchPlan();
  console.error(`core: plan 5,000 instances in 4 zones, batches of 5 %: median ${planMs.toFixed(2)} ms (target < 20 ms)`);
  const figures: Record<string, number> = { plan_ms: Number(planMs.toFixed(3)) };
  const cases: Array<[key: string, fleet: number, batch: number, events: number]> = [
    ["transition_us", 5_000, 50, 1_000],
    ["transition_us_batch5", 5_000, 5, 1_000],
    ["transition_us_batch500", 5_000, 500, 1_000],
  ];
  const cold = benchTransitions(plan(5_000, 50), 500);
  console.error(`core: cold pass, 500 events from the first, batches of 50: ${cold.us.toFixed(2)} µs per event wall, ${cold.cpuUs.toFixed(2)} µs CPU`);
  figures.transition_cold_us = Number(cold.us.toFixed(3));
  for (const [key, n, batch, events] of cases) {
    const p = plan(n, batch);
    benchTransitions(p, 200);
    const r = benchTransitions(p, events);
    console.error(
      `core: ${events.toLocaleString("en")} events on a ${n.toLocaleString("en")}-instance fleet in batches of ${p.batchSize}: ` +
        `${r.us.toFixed(2)} µs per event wall, ${r.cpuUs.toFixed(2)} µs CPU, ${r.rollouts} full rollouts`,
    );
    figures[key] = Number(r.us.toFixed(3));
    figures[key.replace("transition_us", "transition_cpu_us")] = Number(r.cpuUs.toFixed(3));
  }
  const deriveMs = benchDerive();
  console.error(`core: derivePhase on a 5,000-instance rollout (batch 41 of 100 deploying): median ${deriveMs.toFixed(3)} ms`);
  figures.derive_ms = Number(deriveMs.toFixed(3));
  return figures;
}
