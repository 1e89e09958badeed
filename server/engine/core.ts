/**
 * The engine: runs one RolloutRunner per active rollout whose lease it holds, notices new events (a
 * server action's approve, a new rollout) at once when they are appended in this process or announced
 * by the store (the bus) and within 50 ms otherwise (it polls the log's last seq), and when it takes
 * charge of a rollout resumes what the previous engine left, saying in the log what it found
 * (`engine-crash-detected`, `engine-resumed`).
 *
 * Leases (server/store/leases.ts): one per rollout, so several engines — processes on one machine, or
 * dashboard replicas on one PostgreSQL — share the rollouts, exactly one driving each. An engine
 * renews the leases it holds every `renewMs`; one it cannot renew (expired, taken over) stops its
 * runner at once, and any write it still attempts is refused by the store (the fencing token). Free
 * or expired leases of active rollouts are taken at the next pass (at most a second apart).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Effect } from "@/lib/rollout/types";
import type { FleetMonitor, FleetSnapshot } from "@/server/monitor";
import type { LoadBalancerProvider } from "@/server/providers/types";
import type { RotorStore } from "@/server/store";
import { acquireLease, DEFAULT_LEASE, releaseLease, renewLease, type LeaseSettings, type RolloutLease } from "@/server/store/leases";
import { FencedJournal, type Journals } from "@/server/store/journal";
import type { StaleLeaseError } from "@/server/store";
import { StoreUnavailableError } from "@/server/store/pg/sync";
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
  /** Lease length and renewal (default DEFAULT_LEASE: 6 s, renewed every 2 s). */
  lease?: LeaseSettings;
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
  /** The leases this engine holds, by rollout (taken before adopting, kept while driving). */
  private readonly leases = new Map<string, RolloutLease>();
  /**
   * Per lease, until when (performance.now(), monotonic: it jumps ahead over a freeze) this engine may
   * act without asking the store again: the start of the call that took or renewed it, plus the lease
   * length, less a renewal period of margin.
   */
  private readonly safeUntil = new Map<string, number>();
  /** Rollouts another engine drives, by owner last seen (logged once per owner). */
  private readonly elsewhere = new Map<string, string>();
  private pollTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private lastSeq = -1;
  private lastFullTick = 0;
  private stopped = false;
  private ticking = false;
  private readonly adopting = new Set<string>();
  private offBus: (() => void) | null = null;
  private tickQueued = false;
  /** The store did not answer at the last pass (logged once per outage). */
  private storeDown = false;
  readonly lease: LeaseSettings;

  constructor(private readonly config: EngineConfig) {
    this.lease = config.lease ?? DEFAULT_LEASE;
  }

  get store(): RotorStore {
    return this.config.store;
  }

  /** Starts the loop: takes the leases of active rollouts that nobody drives, renews its own. */
  start(): void {
    const every = this.config.pollMs ?? 50;
    this.pollTimer = setInterval(() => this.tick(), every);
    this.renewTimer = setInterval(() => this.renew(), this.lease.renewMs);
    // Events appended in this process (a server action) or announced by the store (another replica's)
    // are seen at once; other processes' within a poll.
    this.offBus = this.config.bus.on((c) => {
      if (c.kind === "event" && !this.tickQueued) {
        this.tickQueued = true;
        queueMicrotask(() => {
          this.tickQueued = false;
          this.tick();
        });
      }
    });
    log.info({ owner: this.owner, lease: this.lease }, "engine running");
    this.tick();
  }

  /** Renews every lease held; one that cannot be renewed stops its rollout's runner here. */
  private renew(): void {
    if (this.stopped) return;
    for (const id of [...this.leases.keys()]) this.renewOne(id);
  }

  /** Renews one lease; false (and the runner stopped) when it is no longer this engine's. */
  private renewOne(id: string): boolean {
    const lease = this.leases.get(id);
    if (!lease) return false;
    const asked = performance.now();
    try {
      const renewed = renewLease(this.store, lease, this.lease.leaseMs);
      if (renewed) {
        this.leases.set(id, renewed);
        this.safeUntil.set(id, asked + this.lease.leaseMs - this.lease.renewMs);
        return true;
      }
      this.lost(id, `lease token ${lease.token} expired or passed to another engine`);
      return false;
    } catch (err) {
      // The store is unreachable: effects cannot record anything, so they hold; past the lease's
      // expiry another engine may take over, so this one lets go (it takes the lease again, with a
      // new term, if nobody did).
      log.warn({ err, rolloutId: id }, "could not renew the rollout's lease");
      if (performance.now() >= (this.safeUntil.get(id) ?? 0)) this.lost(id, "the store was unreachable past the lease's expiry");
      return false;
    }
  }

  /** Whether this engine may still act for the rollout: yes within the lease's safe time, else only if a renewal succeeds now. */
  private mayAct(id: string): boolean {
    if (!this.leases.has(id)) return false;
    if (performance.now() < (this.safeUntil.get(id) ?? 0)) return true;
    return this.renewOne(id);
  }

  /** Ends this engine's term on a rollout it no longer drives (the row stays: tokens only grow). */
  private release(rolloutId: string): void {
    const lease = this.leases.get(rolloutId);
    this.leases.delete(rolloutId);
    this.safeUntil.delete(rolloutId);
    if (!lease) return;
    try {
      releaseLease(this.store, lease);
    } catch (err) {
      log.warn({ err, rolloutId }, "could not release the rollout's lease (it expires by itself)");
    }
  }

  /** Stops driving a rollout whose lease this engine no longer holds. */
  private lost(rolloutId: string, why: string): void {
    const lease = this.leases.get(rolloutId);
    this.leases.delete(rolloutId);
    this.safeUntil.delete(rolloutId);
    const runner = this.runners.get(rolloutId);
    this.runners.delete(rolloutId);
    runner?.stop();
    log.error({ owner: this.owner, rolloutId, token: lease?.token }, `stopped driving rollout ${rolloutId}: ${why}`);
    // Look again at once: nobody may hold it now (a store outage), and then this engine takes it back.
    this.lastSeq = -1;
  }

  /** A write of this engine was refused by the store: its lease is gone. Recorded, unfenced, for the timeline. */
  private fencedOut(rolloutId: string, token: number, err: StaleLeaseError): void {
    if (!this.leases.has(rolloutId) || this.leases.get(rolloutId)?.token !== token) return;
    this.lost(rolloutId, err.message);
    try {
      this.config.journals.get(rolloutId)?.note("engine-fenced-out", { owner: this.owner, pid: process.pid, token, refused: err.eventType, message: err.message });
    } catch (noteErr) {
      log.error({ err: noteErr, rolloutId }, "could not record the refused write");
    }
  }

  /** One pass: if the log moved, catch every journal up, take free leases of active rollouts, reconcile. */
  tick(): void {
    if (this.stopped || this.ticking) return;
    this.ticking = true;
    try {
      const seq = this.store.lastSeq();
      const now = Date.now();
      // Without new events, still look once a second (expired leases to take, an effect held back after an engine error).
      if (seq === this.lastSeq && now - this.lastFullTick < 1_000) return;
      this.lastSeq = seq;
      this.lastFullTick = now;
      for (const id of this.store.activeRolloutIds()) {
        if (!this.runners.has(id) && !this.adopting.has(id)) this.tryTakeCharge(id);
      }
      for (const runner of [...this.runners.values()]) {
        runner.journal.catchUp();
        runner.reconcile();
      }
      if (this.storeDown) log.info("the store answers again; rollouts go on from their logs");
      this.storeDown = false;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) log.error({ err }, "engine tick failed");
      else if (!this.storeDown) log.warn({ err }, "the store is unreachable: nothing is recorded or done until it answers");
      this.storeDown = err instanceof StoreUnavailableError;
    } finally {
      this.ticking = false;
    }
  }

  private tryTakeCharge(rolloutId: string): void {
    const asked = performance.now();
    const r = acquireLease(this.store, rolloutId, this.owner, this.lease.leaseMs);
    if (!r.ok) {
      if (this.elsewhere.get(rolloutId) !== r.holder.owner) {
        this.elsewhere.set(rolloutId, r.holder.owner);
        log.info({ rolloutId, holder: r.holder.owner, token: r.holder.token }, "another engine drives this rollout");
      }
      return;
    }
    this.elsewhere.delete(rolloutId);
    this.leases.set(rolloutId, r.lease);
    this.safeUntil.set(rolloutId, asked + this.lease.leaseMs - this.lease.renewMs);
    void this.adopt(rolloutId, r.lease, r.previous);
  }

  private async adopt(rolloutId: string, lease: RolloutLease, previous: RolloutLease | null): Promise<void> {
    this.adopting.add(rolloutId);
    try {
      const found = this.config.journals.get(rolloutId);
      if (!found) return;
      const journal = new FencedJournal(found, lease.token, (err) => this.fencedOut(rolloutId, lease.token, err));
      // What the provider reports now, for the resume record (bounded: a dead provider must not stall the resume).
      const snapshot = await Promise.race([
        this.config.monitor.freshSnapshot(journal.lb, 0).catch(() => this.config.monitor.snapshot(journal.lb)),
        new Promise<FleetSnapshot>((r) => setTimeout(() => r(this.config.monitor.snapshot(journal.lb)), 3_000).unref()),
      ]);
      if (this.stopped || this.leases.get(rolloutId)?.token !== lease.token) return;
      journal.catchUp();
      this.recordTakeOver(journal, lease, previous, snapshot);
      this.startRunner(journal);
    } catch (err) {
      log.error({ err, rolloutId }, "could not take charge of the rollout");
      // Let the lease go so this or another engine tries again.
      if (this.leases.get(rolloutId)?.token === lease.token && !this.runners.has(rolloutId)) this.release(rolloutId);
    } finally {
      this.adopting.delete(rolloutId);
      // Events may have arrived while adopting; look again at once.
      this.lastSeq = -1;
    }
  }

  private startRunner(journal: FencedJournal): void {
    const rolloutId = journal.rolloutId;
    const runner = new RolloutRunner(
      journal,
      {
        provider: this.config.provider,
        monitor: this.config.monitor,
        retry: this.config.retry,
        autoPauseFailures: this.config.autoPauseFailures ?? 0,
        holdsLease: () => this.mayAct(rolloutId),
      },
      (r) => {
        if (this.runners.get(rolloutId) !== r) return;
        // The rollout is over: nothing to drive, so its lease is let go (not renewed for ever).
        this.runners.delete(rolloutId);
        this.release(rolloutId);
      },
    );
    this.runners.set(rolloutId, runner);
    runner.log.info({ phase: journal.state.phase, outstanding: journal.state.outstanding.map((e) => e.effectId) }, "engine took charge of the rollout");
    runner.reconcile();
  }

  /**
   * Before driving a rollout: if the log shows an engine that started and never stopped, record the
   * crash (and whose lease this engine took over); if effects are outstanding, what it resumes; then
   * this engine's start, with its lease.
   */
  private recordTakeOver(journal: FencedJournal, lease: RolloutLease, previous: RolloutLease | null, snapshot: FleetSnapshot): void {
    const events = this.store.events(journal.rolloutId);
    const lifecycle = events.filter((e) => e.type === "engine-started" || e.type === "engine-stopped");
    const last = lifecycle.at(-1);
    const lastEvent = events.at(-1);
    const hadEngine = last !== undefined;
    if (last?.type === "engine-started" && last.payload.owner !== this.owner) {
      journal.note("engine-crash-detected", {
        previousOwner: last.payload.owner ?? null,
        previousPid: last.payload.pid ?? null,
        lastSeq: lastEvent?.seq ?? null,
        lastEventType: lastEvent?.type ?? null,
        lastEventAt: lastEvent?.at ?? null,
        leaseTakenOver: previous !== null,
        message: `the previous engine ${String(last.payload.owner ?? `pid ${String(last.payload.pid ?? "?")}`)} stopped driving without stopping cleanly; its last event was ${lastEvent?.type ?? "none"} at seq ${lastEvent?.seq ?? "?"}`,
      });
    }
    if (hadEngine) this.recordResume(journal, snapshot);
    journal.note("engine-started", {
      owner: this.owner,
      pid: process.pid,
      resumed: hadEngine,
      phase: journal.state.phase,
      leaseToken: lease.token,
      tookOverFrom: previous?.owner ?? null,
    });
  }

  /** If effects are outstanding, record what the provider reports for their instances now and what happens next. */
  private recordResume(journal: FencedJournal, snapshot: FleetSnapshot): void {
    const outstanding = journal.state.outstanding;
    if (outstanding.length === 0) return;
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

  /** Rollouts this engine drives now. */
  activeRunners(): RolloutRunner[] {
    return [...this.runners.values()];
  }

  /** The leases this engine holds now (driving, or about to). */
  heldLeases(): RolloutLease[] {
    return [...this.leases.values()];
  }

  /**
   * At process exit (synchronous: the store is synchronous): record `engine-stopped` and free the
   * leases, so a dashboard shut down on purpose is not reported as a crash and another engine takes
   * over at once. Effects in progress are abandoned; the next engine resumes them.
   */
  recordExit(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.letGo([...this.runners.values()], true);
  }

  /** Stops cleanly: records `engine-stopped` on every rollout it drives and frees the leases. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.offBus?.();
    const runners = [...this.runners.values()];
    for (const r of runners) r.stop();
    await Promise.all(runners.map((r) => r.settled()));
    this.letGo(runners, false);
    this.runners.clear();
    log.info({ owner: this.owner }, "engine stopped");
  }

  private letGo(runners: RolloutRunner[], atExit: boolean): void {
    for (const r of runners) {
      try {
        r.journal.note("engine-stopped", { owner: this.owner, pid: process.pid, outstanding: r.state.outstanding.map((e) => e.effectId), ...(atExit ? { atExit } : {}) });
      } catch (err) {
        if (!atExit) log.error({ err }, "could not record engine-stopped");
      }
    }
    for (const id of [...this.leases.keys()]) this.release(id);
  }
}
