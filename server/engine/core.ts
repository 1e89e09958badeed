/**
 * The engine: holds the data dir's lease, runs one RolloutRunner per active rollout, notices new
 * events (a server action's approve, a new rollout) at once when they are appended in this process
 * (the bus) and within 50 ms otherwise (it polls the log's last seq), and at start-up resumes what the
 * previous engine left, saying in the log what it found (`engine-crash-detected`, `engine-resumed`).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Effect } from "@/lib/rollout/types";
import type { FleetMonitor, FleetSnapshot } from "@/server/monitor";
import type { LoadBalancerProvider } from "@/server/providers/types";
import type { RotorStore } from "@/server/store";
import { acquireLease, heartbeatLease, releaseLease, type Lease } from "@/server/store/lease";
import type { Journals, RolloutJournal } from "@/server/store/journal";
import type { ChangeBus } from "@/server/bus";
import { componentLog } from "@/server/log";
import { RolloutRunner } from "./runner";
import type { RetryPolicy } from "./retry";

export interface EngineConfig {
  store: RotorStore;
  journals: Journals;
  bus: ChangeBus;
  provider: LoadBalancerProvider;
  monitor: FleetMonitor;
  pollMs?: number;
  retry?: RetryPolicy;
  autoPauseFailures?: number;
}

const log = componentLog("engine");

function resumeAction(e: Effect, started: boolean): string {
  if (!started && e.type !== "awaitApproval") return `start ${e.type} (issued, not yet started)`;
  switch (e.type) {
    case "deregister":
      return "deregister again (idempotent)";
    case "register":
      return "register again (idempotent)";
    case "waitDrain":
      return "resume waiting for the drain, keeping its deadline";
    case "waitInService":
      return "resume waiting for in-service, keeping its deadline";
    case "runHook":
      return `resume the ${e.hook} hook: poll the commands already sent (never sent again while they run), run it where none was sent`;
    case "scaleGroup":
      return `ask ${e.group} again for launch version ${e.launchVersion} and desired ${e.desired} (absolute: nothing launches twice), resume waiting, keeping its deadline`;
    case "terminate":
      return `terminate ${e.ids.join(", ")} again (an instance already terminating or gone is left alone, decrementing nothing)`;
    case "awaitApproval":
      return `keep waiting for the operator's approval of batch ${e.batch + 1}`;
    case "sleep":
      return `bake until ${new Date(e.until).toISOString()}`;
    case "analyze":
      return `analyse batch ${e.batch + 1} again: a new ${Math.round(e.windowMs / 1000)} s window (the figures before the restart were not kept)`;
  }
}

export class Engine {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly runners = new Map<string, RolloutRunner>();
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private lastSeq = -1;
  private lastFullTick = 0;
  private leaseHeld = false;
  private previousLease: Lease | null = null;
  private stopped = false;
  private ticking = false;
  private readonly adopting = new Set<string>();
  private offBus: (() => void) | null = null;
  private tickQueued = false;

  constructor(private readonly config: EngineConfig) {}

  get store(): RotorStore {
    return this.config.store;
  }

  /** Takes the lease (or stands by until it can) and starts the loop. */
  start(): void {
    this.tryLease();
    const every = this.config.pollMs ?? 50;
    this.pollTimer = setInterval(() => this.tick(), every);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), 1_000);
    // Events appended in this process (a server action) are seen at once; other processes' within a poll.
    this.offBus = this.config.bus.on((c) => {
      if (c.kind === "event" && !this.tickQueued) {
        this.tickQueued = true;
        queueMicrotask(() => {
          this.tickQueued = false;
          this.tick();
        });
      }
    });
  }

  private tryLease(): void {
    const r = acquireLease(this.store, this.owner);
    if (!r.ok) {
      if (!this.leaseHeld) log.info({ holder: r.holder }, "another engine holds the data dir; standing by");
      return;
    }
    this.leaseHeld = true;
    this.previousLease = r.takenOver ? r.previous : null;
    log.info({ owner: this.owner, takenOver: r.takenOver, previous: r.previous }, "engine holds the data dir");
    this.tick();
  }

  private heartbeat(): void {
    if (this.stopped) return;
    try {
      if (!this.leaseHeld) return this.tryLease();
      if (!heartbeatLease(this.store, this.owner)) {
        log.error({ owner: this.owner }, "lost the engine lease to another engine; stopping every rollout loop here");
        this.leaseHeld = false;
        for (const r of this.runners.values()) r.stop();
        this.runners.clear();
      }
    } catch (err) {
      log.error({ err }, "engine heartbeat failed");
    }
  }

  /** One pass: if the log moved, catch every journal up, adopt new rollouts, reconcile. */
  tick(): void {
    if (this.stopped || !this.leaseHeld || this.ticking) return;
    this.ticking = true;
    try {
      const seq = this.store.lastSeq();
      const now = Date.now();
      // Without new events, still reconcile once a second (an effect held back after an engine error).
      if (seq === this.lastSeq && now - this.lastFullTick < 1_000) return;
      this.lastSeq = seq;
      this.lastFullTick = now;
      for (const row of this.store.activeRollouts()) {
        if (!this.runners.has(row.id) && !this.adopting.has(row.id)) void this.adopt(row.id);
      }
      for (const runner of [...this.runners.values()]) {
        runner.journal.catchUp();
        runner.reconcile();
      }
    } catch (err) {
      log.error({ err }, "engine tick failed");
    } finally {
      this.ticking = false;
    }
  }

  private async adopt(rolloutId: string): Promise<void> {
    this.adopting.add(rolloutId);
    try {
      const journal = this.config.journals.get(rolloutId);
      if (!journal) return;
      // What the provider reports now, for the resume record (bounded: a dead provider must not stall the resume).
      const snapshot = await Promise.race([
        this.config.monitor.freshSnapshot(journal.lb, 0).catch(() => this.config.monitor.snapshot(journal.lb)),
        new Promise<FleetSnapshot>((r) => setTimeout(() => r(this.config.monitor.snapshot(journal.lb)), 3_000).unref()),
      ]);
      if (this.stopped || !this.leaseHeld) return;
      journal.catchUp();
      this.recordTakeOver(journal, snapshot);
      this.startRunner(journal);
    } catch (err) {
      log.error({ err, rolloutId }, "could not take charge of the rollout");
    } finally {
      this.adopting.delete(rolloutId);
      // Events may have arrived while adopting; look again at once.
      this.lastSeq = -1;
    }
  }

  private startRunner(journal: RolloutJournal): void {
    const rolloutId = journal.rolloutId;
    const runner = new RolloutRunner(
      journal,
      { provider: this.config.provider, monitor: this.config.monitor, retry: this.config.retry, autoPauseFailures: this.config.autoPauseFailures ?? 0 },
      (r) => {
        if (this.runners.get(r.journal.rolloutId) === r) this.runners.delete(r.journal.rolloutId);
      },
    );
    this.runners.set(rolloutId, runner);
    runner.log.info({ phase: journal.state.phase, outstanding: journal.state.outstanding.map((e) => e.effectId) }, "engine took charge of the rollout");
    runner.reconcile();
  }

  /**
   * Before driving a rollout: if the log shows an engine that started and never stopped, record the
   * crash; if effects are outstanding, record what the provider reports for their instances now and
   * what happens next. Then record this engine's start.
   */
  private recordTakeOver(journal: RolloutJournal, snapshot: FleetSnapshot): void {
    const events = this.store.events(journal.rolloutId);
    const lifecycle = events.filter((e) => e.type === "engine-started" || e.type === "engine-stopped");
    const last = lifecycle.at(-1);
    const lastEvent = events.at(-1);
    const hadEngine = last !== undefined;
    if (last?.type === "engine-started") {
      journal.note("engine-crash-detected", {
        previousOwner: last.payload.owner ?? null,
        previousPid: last.payload.pid ?? null,
        lastSeq: lastEvent?.seq ?? null,
        lastEventType: lastEvent?.type ?? null,
        lastEventAt: lastEvent?.at ?? null,
        leaseTakenOver: this.previousLease !== null,
        message: `the previous engine (pid ${String(last.payload.pid ?? "?")}) ended without stopping; its last event was ${lastEvent?.type ?? "none"} at seq ${lastEvent?.seq ?? "?"}`,
      });
    }
    const outstanding = journal.state.outstanding;
    if (hadEngine && outstanding.length > 0) {
      const byId = new Map(snapshot.instances.map((i) => [i.id, i]));
      const found = outstanding.map((e) => {
        const started = journal.started.has(e.effectId);
        const ids = "ids" in e ? e.ids : [];
        return {
          effectId: e.effectId,
          type: e.type,
          hook: e.type === "runHook" ? e.hook : undefined,
          batch: e.batch,
          ids,
          started,
          startedAt: journal.started.get(e.effectId) ?? null,
          action: resumeAction(e, started),
          instances: Object.fromEntries(
            ids.map((id) => {
              const i = byId.get(id);
              return [id, i ? { state: i.state, description: i.description, version: i.version, inFlight: i.inFlight } : null];
            }),
          ),
        };
      });
      journal.note("engine-resumed", {
        phase: journal.state.phase,
        outstanding: found,
        snapshotAt: snapshot.at,
        message: `resuming ${found.map((f) => `${f.effectId}: ${f.action}`).join("; ")}`,
      });
    }
    journal.note("engine-started", { owner: this.owner, pid: process.pid, resumed: hadEngine, phase: journal.state.phase });
  }

  /** Rollouts this engine drives now. */
  activeRunners(): RolloutRunner[] {
    return [...this.runners.values()];
  }

  holdsLease(): boolean {
    return this.leaseHeld;
  }

  /**
   * At process exit (synchronous: the store is synchronous): record `engine-stopped` and free the lease,
   * so a dashboard shut down on purpose is not reported as a crash at its next start. Effects in
   * progress are abandoned; the next engine resumes them.
   */
  recordExit(): void {
    if (this.stopped || !this.leaseHeld) return;
    this.stopped = true;
    try {
      for (const r of this.runners.values()) {
        r.journal.note("engine-stopped", { owner: this.owner, pid: process.pid, outstanding: r.state.outstanding.map((e) => e.effectId), atExit: true });
      }
      releaseLease(this.store, this.owner);
    } catch {
      // Exiting anyway; the next engine will report a crash instead.
    }
  }

  /** Stops cleanly: records `engine-stopped` on every rollout it drives and frees the lease. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.offBus?.();
    const runners = [...this.runners.values()];
    for (const r of runners) r.stop();
    await Promise.all(runners.map((r) => r.settled()));
    if (this.leaseHeld) {
      for (const r of runners) {
        try {
          r.journal.note("engine-stopped", { owner: this.owner, pid: process.pid, outstanding: r.state.outstanding.map((e) => e.effectId) });
        } catch (err) {
          log.error({ err }, "could not record engine-stopped");
        }
      }
      releaseLease(this.store, this.owner);
    }
    this.runners.clear();
    log.info({ owner: this.owner }, "engine stopped");
  }
}
