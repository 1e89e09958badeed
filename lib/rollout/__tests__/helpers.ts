/** Test helpers: fleets, rollouts, and a driver that sends events and checks they were accepted. */
import { expect } from "vitest";
import { createRollout, transition, type CreateRolloutInput } from "../machine";
import { planRollout } from "../plan";
import { getInstance, type InstanceState, type RolloutState } from "../state";
import type { Verdict } from "../../analysis";
import type { AnalysisReport, ApprovalMode, EngineEvent, Effect, FleetInstance, OperatorEvent, PlanOptions, Rejection, RolloutEvent } from "../types";

/** n in-service instances i-1…i-n, zones a, b, c in turn, all on v1. */
export function fleetOf(n: number, zones: string[] = ["a", "b", "c"], version: string | null = "v1"): FleetInstance[] {
  return Array.from({ length: n }, (_, i) => ({ id: `i-${i + 1}`, zone: zones[i % zones.length] ?? "a", state: "in-service" as const, version }));
}

export function inputFor(
  fleet: FleetInstance[],
  options: Partial<PlanOptions> = {},
  mode: ApprovalMode = { kind: "manual" },
): CreateRolloutInput {
  const r = planRollout(fleet, { version: "v2", batchSize: { unit: "count", value: 1 }, ...options });
  if (!r.ok) throw new Error(r.error.message);
  return { id: "r-1", lb: "local", plan: r.plan, mode, drainTimeoutMs: 30_000, createdAt: 1_000, createdBy: "alice" };
}

export function rolloutOf(fleet: FleetInstance[], options: Partial<PlanOptions> = {}, mode?: ApprovalMode): RolloutState {
  return createRollout(inputFor(fleet, options, mode));
}

export function inst(s: RolloutState, id: string): InstanceState {
  const i = getInstance(s, id);
  if (!i) throw new Error(`no instance ${id}`);
  return i;
}

type AnyEvent = OperatorEvent | EngineEvent;

/** Sends events one at a time (time advancing by 1 ms each) and keeps the log for replay. */
export class Driver {
  t = 2_000;
  state: RolloutState;
  log: RolloutEvent[] = [];
  constructor(state: RolloutState) {
    this.state = state;
  }

  send(e: AnyEvent, actor = "alice"): Effect[] {
    const ev = { ...e, at: ++this.t, actor } as RolloutEvent;
    const r = transition(this.state, ev);
    if (!r.ok) throw new Error(`${e.type} rejected: ${r.rejection.message}`);
    this.log.push(ev);
    this.state = r.state;
    return r.effects;
  }

  /** Expect a rejection; checks the state came back as the same, unchanged object. */
  reject(e: AnyEvent, actor = "alice"): Rejection {
    const before = JSON.stringify(this.state);
    const r = transition(this.state, { ...e, at: ++this.t, actor } as RolloutEvent);
    expect(r.ok).toBe(false);
    expect(r.state).toBe(this.state);
    expect(JSON.stringify(this.state)).toBe(before);
    if (r.ok) throw new Error("accepted");
    return r.rejection;
  }

  get pending(): Effect {
    const e = this.state.outstanding[0];
    if (!e) throw new Error(`nothing outstanding (phase ${this.state.phase})`);
    return e;
  }

  ok(effect: Effect = this.pending): Effect[] {
    return this.send({ type: "step-succeeded", effectId: effect.effectId });
  }

  /** Report the outstanding analysis with this verdict (one reason naming it). */
  judge(verdict: Verdict, effect: Effect = this.pending): Effect[] {
    if (effect.type !== "analyze") throw new Error(`${effect.effectId} is not an analysis`);
    const analysis: AnalysisReport = { verdict, reasons: [`Judged ${verdict}.`], checks: [], fresh: null, old: null, thresholds: effect.thresholds, from: this.t - effect.windowMs, to: this.t, freshIds: effect.fresh, oldIds: effect.old };
    return this.send({ type: "analysis-finished", effectId: effect.effectId, analysis }, "engine");
  }

  /** Answer step effects with success until something else is outstanding (a gate) or nothing is. */
  untilRest(limit = 10_000): void {
    for (let i = 0; i < limit; i++) {
      const e = this.state.outstanding[0];
      if (!e || e.type === "awaitApproval" || e.type === "sleep" || e.type === "analyze") return;
      this.ok(e);
    }
    throw new Error("did not come to rest");
  }

  /** Run the whole rollout with every step succeeding and every batch approved. */
  toEnd(): void {
    for (let i = 0; i < 100_000; i++) {
      this.untilRest();
      const e = this.state.outstanding[0];
      if (!e) return;
      if (e.type === "awaitApproval") this.send({ type: "approve", batch: e.batch });
      else if (e.type === "analyze") this.judge("pass");
      else this.send({ type: "continue-now" });
    }
  }
}
