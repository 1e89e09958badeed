/**
 * One rollout's loop: keep its journal caught up, and make the effects the machine has outstanding
 * happen — each recorded as `step-started` before it is performed and reported after it ends.
 *
 * The loop is a reconciliation, not a queue: after every change it compares `state.outstanding` with
 * the effects in progress, starts the missing ones and cancels those the machine no longer wants
 * (a bake ended by continue-now or pause). So a restarted engine, which begins with an empty set in
 * progress, resumes exactly what the log says was outstanding.
 */
import type { Logger } from "pino";
import type { AnalysisReport, Effect, LbState, RolloutEvent } from "@/lib/rollout/types";
import { getInstance, type RolloutState } from "@/lib/rollout/state";
import type { FleetMonitor, FleetSnapshot } from "@/server/monitor";
import { HookDetached, type LoadBalancerProvider, type ScalingGroupState, type SentCommand } from "@/server/providers/types";
import type { FencedJournal } from "@/server/store/journal";
import { rolloutLog } from "@/server/log";
import { performEffect, type EffectContext, type EffectOutcome, type PerformableEffect } from "./effects";
import { performGroupEffect } from "./group-effects";
import { performAnalysis, type AnalyzeEffect } from "./analysis";
import { abortableSleep, type RetryPolicy } from "./retry";
import { isFinal } from "@/lib/rollout/state";

export interface RunnerDeps {
  provider: LoadBalancerProvider;
  monitor: FleetMonitor;
  retry?: RetryPolicy;
  /** Auto mode: pause when the traffic failure count rises by this many during a batch (0 = never). */
  autoPauseFailures: number;
  /**
   * Whether this engine still holds the rollout's lease, checked before anything is done to the fleet
   * (renewing it when its time may be up). False stops this runner: the store's fencing refuses a
   * stale engine's writes to the log, and this check keeps it from acting on the fleet at all (after a
   * freeze, its first look finds the lease gone before it launches or repeats any call).
   */
  holdsLease(): boolean;
}

/**
 * Test-only: `ROTOR_TEST_HOLD_AFTER_MS='{"deregister":2500,"stop":2500}'` holds a step's report this
 * long after the provider call returned, so the crash-resume tests can SIGKILL the engine while the
 * step is performed but not yet recorded. Keys are step names (deregister, drain, stop, deploy, start,
 * verify, register, wait-in-service). Unset in production.
 */
function testHoldMs(effect: Effect): number {
  const raw = process.env.ROTOR_TEST_HOLD_AFTER_MS;
  if (!raw) return 0;
  const step = effect.type === "runHook" ? effect.hook : effect.type === "waitDrain" ? "drain" : effect.type === "waitInService" ? "wait-in-service" : effect.type;
  try {
    const n = (JSON.parse(raw) as Record<string, unknown>)[step];
    return typeof n === "number" && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

class Cancelled extends Error {
  constructor() {
    super("effect no longer outstanding");
    this.name = "Cancelled";
  }
}

interface Running {
  effect: Effect;
  controller: AbortController;
}

export class RolloutRunner {
  private readonly running = new Map<string, Running>();
  /** Effects that could not be launched (rejected step-started, a bug): not relaunched before this time. */
  private readonly holdUntil = new Map<string, number>();
  private stopped = false;
  private unsubscribeFleet: (() => void) | null = null;
  private trafficBaseline: { key: string; failed: number } | null = null;
  private autoPausedKey: string | null = null;
  readonly log: Logger;
  /** The other load balancers each instance served when the rollout was planned. */
  private readonly alsoIn: ReadonlyMap<string, readonly string[]>;
  /** Replace: the group's activities already on the timeline (seeded from the log: a restart notes none twice). */
  private seenActivities: Set<string> | null = null;
  private groupWatch: NodeJS.Timeout | null = null;

  constructor(
    readonly journal: FencedJournal,
    private readonly deps: RunnerDeps,
    private readonly onFinished: (runner: RolloutRunner) => void,
  ) {
    this.log = rolloutLog({ rolloutId: journal.rolloutId });
    this.alsoIn = new Map(journal.createInput.plan.instances.map((i) => [i.id, i.alsoIn ?? []]));
    deps.monitor.setActive(journal.lb, true);
    this.unsubscribeFleet = deps.monitor.subscribe(journal.lb, (s) => this.observe(s));
    this.watchGroup();
  }

  /**
   * Replace: reads the group every ROTOR_GROUP_WATCH_MS (default 10 s) while no group effect is reading
   * it anyway, so the group's own activities (a scale-out, a health replacement) reach the timeline
   * during approval waits and bakes too.
   */
  private watchGroup(): void {
    const group = this.journal.createInput.plan.replace?.group;
    const groups = this.deps.provider.groups;
    if (!group || !groups) return;
    const every = Math.max(1_000, Number(process.env.ROTOR_GROUP_WATCH_MS ?? 10_000) || 10_000);
    this.groupWatch = setInterval(() => {
      if (this.stopped || [...this.running.values()].some((r) => r.effect.type === "scaleGroup" || r.effect.type === "terminate")) return;
      groups.describe(group).then(
        (g) => this.groupSeen(g),
        (err: unknown) => this.log.warn({ err }, `reading group ${group} for its activities failed`),
      );
    }, every);
    this.groupWatch.unref();
  }

  /** Notes the group's ended activities since the rollout started, oldest first, each once. */
  private groupSeen(g: ScalingGroupState): void {
    if (this.stopped) return;
    if (!this.seenActivities) {
      this.seenActivities = new Set();
      for (const e of this.journal.events) if (e.type === "group-activity" && typeof e.payload.activity === "string") this.seenActivities.add(e.payload.activity);
    }
    const since = this.journal.state.startedAt ?? this.journal.state.createdAt;
    for (const a of [...g.activities].reverse()) {
      if (this.seenActivities.has(a.id) || (a.startedAt !== null && a.startedAt < since - 1_000)) continue;
      if (a.status === "InProgress" || a.status.startsWith("WaitingFor") || a.status.startsWith("PreInService") || a.status.startsWith("Pending")) continue;
      this.seenActivities.add(a.id);
      this.journal.note("group-activity", { group: g.name, activity: a.id, status: a.status, description: a.description, startedAt: a.startedAt, endedAt: a.endedAt });
    }
  }

  get state(): RolloutState {
    return this.journal.state;
  }

  /** Effects in progress now (for diagnostics and tests). */
  inProgress(): string[] {
    return [...this.running.keys()];
  }

  /** Bring the effects in progress in line with what the machine has outstanding. */
  reconcile(): void {
    if (this.stopped) return;
    const s = this.journal.state;
    const wanted = new Set(s.outstanding.map((e) => e.effectId));
    for (const [id, r] of this.running) {
      if (!wanted.has(id)) r.controller.abort(new Cancelled());
    }
    if (isFinal(s.phase) && this.running.size === 0) {
      this.finish();
      return;
    }
    const now = Date.now();
    for (const effect of s.outstanding) {
      if (this.running.has(effect.effectId)) continue;
      const hold = this.holdUntil.get(effect.effectId);
      if (hold !== undefined && hold > now) continue;
      this.launch(effect);
    }
  }

  private launch(effect: Effect): void {
    if (this.stopped || !this.deps.holdsLease()) return;
    const controller = new AbortController();
    this.running.set(effect.effectId, { effect, controller });
    // A fresh rollout logger, not a child of this.log: pino would repeat its null batch/instance keys.
    const log = rolloutLog({ rolloutId: this.journal.rolloutId, batch: effect.batch, instance: "ids" in effect ? effect.ids : null }).child({ effectId: effect.effectId });
    void this.execute(effect, controller.signal, log)
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        log.error({ err }, "effect crashed in the engine");
        this.holdUntil.set(effect.effectId, Date.now() + 5_000);
      })
      .finally(() => {
        this.running.delete(effect.effectId);
        if (!this.stopped) queueMicrotask(() => this.reconcile());
      });
  }

  private append(event: RolloutEvent, details?: Record<string, unknown>) {
    const r = this.journal.append(event, details);
    if (!r.ok) this.log.warn({ event: event.type, code: r.code }, `engine event refused: ${r.message}`);
    return r;
  }

  private async execute(effect: Effect, signal: AbortSignal, log: Logger): Promise<void> {
    if (effect.type === "awaitApproval") {
      // Nothing to perform: the operator's `approve` (or the log catching up) resolves it.
      log.info({ step: "approval" }, `batch ${effect.batch + 1} awaits approval`);
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      return;
    }
    let startedAt = this.journal.started.get(effect.effectId);
    const resumed = startedAt !== undefined;
    if (startedAt === undefined) {
      startedAt = Date.now();
      const r = this.append({ type: "step-started", effectId: effect.effectId, at: startedAt, actor: "engine" }, { effect });
      if (!r.ok) {
        this.holdUntil.set(effect.effectId, Date.now() + 1_000);
        return;
      }
    }
    if (effect.type === "sleep") {
      log.info({ step: "bake", until: effect.until }, `baking batch ${effect.batch + 1}`);
      // The machine ends the bake on a tick at or after `until`; keep ticking until it has.
      for (;;) {
        await abortableSleep(Math.max(0, effect.until - Date.now()), signal).catch(() => undefined);
        if (signal.aborted || this.stopped) return;
        this.append({ type: "tick", at: Math.max(Date.now(), effect.until), actor: "engine" });
        if (!this.journal.state.outstanding.some((e) => e.effectId === effect.effectId)) return;
        await abortableSleep(100, signal).catch(() => undefined);
        if (signal.aborted || this.stopped) return;
      }
    }
    let outcome: EffectOutcome;
    const began = Date.now();
    try {
      const ctx: EffectContext = {
        lb: this.journal.lb,
        provider: this.deps.provider,
        monitor: this.deps.monitor,
        signal,
        log,
        startedAt,
        resumed,
        retry: this.deps.retry,
        // Instances the group launched during the rollout are not in the plan: their own record says.
        alsoIn: (id) => this.alsoIn.get(id) ?? getInstance(this.journal.state, id)?.alsoIn ?? [],
        groupSeen: (g) => this.groupSeen(g),
        sentCommands: effect.type === "runHook" ? this.sentCommands(effect.effectId) : undefined,
        mayAct: () => !signal.aborted && !this.stopped && this.deps.holdsLease(),
        note: (type, payload) => {
          if (!signal.aborted && !this.stopped) this.journal.note(type, { effectId: effect.effectId, ...payload });
        },
      };
      if (effect.type === "analyze") {
        await this.analyze(effect, ctx, startedAt, log);
        return;
      }
      outcome = effect.type === "scaleGroup" || effect.type === "terminate" ? await performGroupEffect(effect, ctx) : await performEffect(effect as PerformableEffect, ctx);
    } catch (err) {
      if (signal.aborted || this.stopped) return;
      const message = `${effect.type} failed in the engine: ${err instanceof Error ? err.message : String(err)}`;
      outcome = { type: "step-failed", results: ("ids" in effect ? effect.ids : []).map((id) => ({ id, ok: false, message })), message };
    }
    if (signal.aborted || this.stopped) return;
    const hold = testHoldMs(effect);
    if (hold > 0) {
      // Test-only: widen the window between "performed" and "reported" so a crash can land in it.
      await abortableSleep(hold, signal).catch(() => undefined);
      if (signal.aborted || this.stopped) return;
    }
    const at = Date.now();
    const details = { durationMs: at - startedAt, performMs: at - began, ...(outcome.details ?? {}) };
    let report: RolloutEvent;
    switch (outcome.type) {
      case "step-succeeded":
        log.info({ durationMs: details.durationMs }, `${effect.effectId} succeeded`);
        report = { type: "step-succeeded", effectId: effect.effectId, results: outcome.results, at, actor: "engine" };
        break;
      case "step-failed":
        log.warn({ durationMs: details.durationMs, results: outcome.results }, `${effect.effectId} failed: ${outcome.message}`);
        report = { type: "step-failed", effectId: effect.effectId, results: outcome.results, message: outcome.message, at, actor: "engine" };
        break;
      case "step-timed-out":
        log.warn({ durationMs: details.durationMs }, `${effect.effectId} timed out: ${outcome.message}`);
        report = { type: "step-timed-out", effectId: effect.effectId, ids: outcome.ids, message: outcome.message, at, actor: "engine" };
        break;
    }
    const r = this.append(report, details);
    if (!r.ok && this.journal.state.outstanding.some((e) => e.effectId === effect.effectId)) {
      // The machine refused the report yet still wants the effect: never expected; do not loop on it.
      log.error({ code: r.code }, `${effect.effectId}: report refused (${r.message}); holding the effect 5 s`);
      this.holdUntil.set(effect.effectId, Date.now() + 5_000);
    }
  }

  /** Watches the window, judges, and reports `analysis-finished` (never a step failure: a problem is an inconclusive verdict). */
  private async analyze(effect: AnalyzeEffect, ctx: EffectContext, startedAt: number, log: Logger): Promise<void> {
    let analysis: AnalysisReport;
    try {
      analysis = await performAnalysis(effect, ctx);
    } catch (err) {
      if (ctx.signal.aborted || this.stopped) return;
      const sentence = `The analysis failed in the engine: ${err instanceof Error ? err.message : String(err)}.`;
      const now = Date.now();
      analysis = { verdict: "inconclusive", reasons: [sentence], checks: [{ check: "sample", outcome: "inconclusive", sentence }], fresh: null, old: null, thresholds: effect.thresholds, from: startedAt, to: now, freshIds: effect.fresh, oldIds: effect.old };
    }
    if (ctx.signal.aborted || this.stopped) return;
    const at = Date.now();
    log.info({ verdict: analysis.verdict, reasons: analysis.reasons }, `batch ${effect.batch + 1} analysis: ${analysis.verdict}`);
    const r = this.append({ type: "analysis-finished", effectId: effect.effectId, analysis, at, actor: "engine" }, { durationMs: at - startedAt });
    if (!r.ok && this.journal.state.outstanding.some((e) => e.effectId === effect.effectId)) {
      log.error({ code: r.code }, `${effect.effectId}: report refused (${r.message}); holding the effect 5 s`);
      this.holdUntil.set(effect.effectId, Date.now() + 5_000);
    }
  }

  /** The hook commands recorded (`hook-sent`) for an effect, oldest first: what a resumed hook polls instead of re-sending. */
  private sentCommands(effectId: string): SentCommand[] {
    const out: SentCommand[] = [];
    for (const e of this.journal.events) {
      if (e.type !== "hook-sent" || e.payload.effectId !== effectId) continue;
      const { commandId, ids } = e.payload;
      if (typeof commandId === "string" && Array.isArray(ids)) out.push({ commandId, ids: ids.map(String) });
    }
    return out;
  }

  /**
   * Feeds what the load balancer reports into the machine's beliefs, on change only: `health-observed`
   * (the capacity guard counts instances outside the batch by it) and, while a drain is awaited,
   * `drain-observed` with the in-flight counts.
   */
  private observe(snap: FleetSnapshot): void {
    const st = this.journal.state;
    if (this.stopped || snap.at === null || snap.consecutiveErrors > 0 || isFinal(st.phase)) return;
    const states: Record<string, LbState> = {};
    let changed = false;
    for (const i of snap.instances) {
      const belief = getInstance(st, i.id);
      if (belief && belief.lbState !== i.state) {
        states[i.id] = i.state;
        changed = true;
      }
    }
    if (changed) this.append({ type: "health-observed", states, at: Date.now(), actor: "engine" });
    const draining = new Set(st.outstanding.flatMap((e) => (e.type === "waitDrain" ? e.ids : [])));
    if (draining.size > 0) {
      const inFlight: Record<string, number> = {};
      let moved = false;
      for (const i of snap.instances) {
        if (!draining.has(i.id) || i.inFlight === null) continue;
        if (getInstance(this.journal.state, i.id)?.inFlight !== i.inFlight) {
          inFlight[i.id] = i.inFlight;
          moved = true;
        }
      }
      if (moved) this.append({ type: "drain-observed", inFlight, at: Date.now(), actor: "engine" });
    }
    if (st.mode.kind === "auto" && this.deps.autoPauseFailures > 0) this.watchTraffic(snap);
  }

  /** Auto mode: pause once per batch when traffic failures rise by `autoPauseFailures` during it. */
  private watchTraffic(s: FleetSnapshot): void {
    const st = this.journal.state;
    if (this.stopped || !s.traffic || (st.phase !== "running" && st.phase !== "baking")) return;
    const key = `${st.direction}:${st.cursor.batch}`;
    if (!this.trafficBaseline || this.trafficBaseline.key !== key) {
      this.trafficBaseline = { key, failed: s.traffic.failed };
      return;
    }
    const rise = s.traffic.failed - this.trafficBaseline.failed;
    if (rise < this.deps.autoPauseFailures || this.autoPausedKey === key || st.pauseRequested) return;
    this.autoPausedKey = key;
    const message = `traffic failures rose by ${rise} during batch ${st.cursor.batch + 1} (threshold ${this.deps.autoPauseFailures})`;
    rolloutLog({ rolloutId: this.journal.rolloutId, batch: st.cursor.batch }).warn({ rise }, `auto-pause: ${message}`);
    this.journal.note("auto-paused", { batch: st.cursor.batch, rise, failuresByKind: s.traffic.failuresByKind, message });
    this.append({ type: "pause", at: Date.now(), actor: "engine" });
    this.reconcile();
  }

  private finish(): void {
    if (this.stopped) return;
    const phase = this.journal.state.phase;
    this.log.info({ phase }, "rollout finished");
    const { monitor } = this.deps;
    const lb = this.journal.lb;
    const record = (traffic: unknown) => this.journal.note("rollout-finished", { phase }, { traffic });
    // The traffic counters at the end, so the rollout's page keeps "failed requests during the rollout";
    // the engine lets the rollout (and its lease) go once they are recorded.
    void monitor
      .freshSnapshot(lb, 0)
      .then((s) => record(s.traffic))
      .catch(() => record(monitor.snapshot(lb).traffic))
      .catch((err: unknown) => this.log.error({ err }, "could not record the end of the rollout"))
      .finally(() => this.onFinished(this));
    this.stop();
  }

  /** Stops driving this rollout; effects in progress are abandoned (a later engine resumes them). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.groupWatch) clearInterval(this.groupWatch);
    // Detached, not cancelled: a hook command keeps running and the next engine resumes polling it.
    for (const r of this.running.values()) r.controller.abort(new HookDetached());
    this.unsubscribeFleet?.();
    this.deps.monitor.setActive(this.journal.lb, false);
  }

  /** Resolves once every effect in progress has ended (after `stop`). */
  async settled(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0 && Date.now() < deadline) await abortableSleep(10);
  }
}
