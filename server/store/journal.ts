/**
 * A rollout's journal: its state, its events and the views read from them, kept caught up with the
 * log as events are appended — so a read is a lookup, never a replay — and the one way events enter
 * it (checked appends).
 *
 * A checked append runs in one write transaction: catch up on events other writers appended (another
 * process, the engine, a server action), run the event through lib's `transition`, and append it as
 * `applied` (state advances) or `rejected` (with the machine's reason; the state does not change).
 * So the applied events, in seq order, always replay to the state every process sees.
 *
 * The views the dashboard reads (batches with per-instance steps, where each instance stands) are
 * derived once per change of the log, on the first read after it, and shared by every viewer.
 */
import { createRollout, transition, type CreateRolloutInput } from "@/lib/rollout/machine";
import { batchViews, instanceSteps } from "@/lib/rollout/batch-views";
import { isFinal, type RolloutState } from "@/lib/rollout/state";
import type { RolloutEvent, RolloutPhase } from "@/lib/rollout/types";
import type { BatchView, InfoEventType, InstanceRolloutStep, StoredEvent } from "@/lib/views";
import type { ChangeBus } from "@/server/bus";
import type { TrafficStats } from "@/server/providers/types";
import { StaleLeaseError, type RotorStore } from "./index";

/** What the dashboard's tables read of a rollout, derived once per change of its log. */
export interface RolloutReadModel {
  batches: BatchView[];
  /** Where the rollout has each instance, for the fleet table. */
  instanceSteps: Record<string, InstanceRolloutStep>;
}

export type CheckedAppend =
  | { ok: true; seq: number; state: RolloutState }
  | { ok: false; seq: number; code: string; message: string; state: RolloutState };

export class RolloutJournal {
  state: RolloutState;
  /** The last seq of this rollout's events folded in (applied or not). */
  lastSeq = 0;
  /** Every event of the rollout, oldest first (the timeline). */
  readonly events: StoredEvent[] = [];
  /** effectId → when the engine reported `step-started` for it. */
  readonly started = new Map<string, number>();
  /** Traffic counters recorded when the rollout started and when the engine saw it finish. */
  trafficAtStart: TrafficStats | null = null;
  trafficAtEnd: TrafficStats | null = null;
  readonly lb: string;
  private model: { seq: number; value: RolloutReadModel } | null = null;

  constructor(
    readonly store: RotorStore,
    readonly rolloutId: string,
    readonly createInput: CreateRolloutInput,
    private readonly bus: ChangeBus | null = null,
  ) {
    this.state = createRollout(createInput);
    this.lb = this.state.lb;
  }

  private fold(e: StoredEvent): void {
    this.lastSeq = e.seq;
    this.events.push(e);
    if (e.type === "start" && e.outcome === "applied") this.trafficAtStart = (e.details?.traffic as TrafficStats | null | undefined) ?? null;
    if (e.type === "rollout-finished") this.trafficAtEnd = (e.details?.traffic as TrafficStats | null | undefined) ?? null;
    if (e.outcome !== "applied") return;
    const event = { ...e.payload, at: e.at, actor: e.actor } as RolloutEvent;
    const r = transition(this.state, event);
    if (!r.ok) {
      // Never expected: every applied event was accepted against exactly this state when appended.
      throw new Error(`replay of rollout ${this.rolloutId} diverged at seq ${e.seq} (${e.type}): ${r.rejection.message}`);
    }
    this.state = r.state;
    if (event.type === "step-started") this.started.set(event.effectId, e.at);
  }

  /** Folds in events appended since the last catch-up (by any process); returns them. */
  catchUp(): StoredEvent[] {
    const events = this.store.events(this.rolloutId, this.lastSeq);
    for (const e of events) this.fold(e);
    return events;
  }

  /**
   * Appends a state-machine event if the machine accepts it, else records it as rejected. An engine
   * passes its lease token (`leaseToken`): a stale one throws StaleLeaseError and nothing is appended.
   */
  append(event: RolloutEvent, details?: Record<string, unknown> | null, leaseToken: number | null = null): CheckedAppend {
    const result = this.store.write((): CheckedAppend => {
      this.catchUp();
      const { at, actor, ...payload } = event;
      const r = transition(this.state, event);
      if (!r.ok) {
        const reason = `${r.rejection.code}: ${r.rejection.message}`;
        const seq = this.store.appendEvent({ rolloutId: this.rolloutId, at, actor, type: event.type, payload, outcome: "rejected", reason, details }, leaseToken);
        this.fold({ seq, rolloutId: this.rolloutId, at, actor, type: event.type, payload, outcome: "rejected", reason, details: details ?? null });
        return { ok: false, seq, code: r.rejection.code, message: r.rejection.message, state: this.state };
      }
      const seq = this.store.appendEvent({ rolloutId: this.rolloutId, at, actor, type: event.type, payload, outcome: "applied", details }, leaseToken);
      const before: RolloutPhase = this.state.phase;
      this.fold({ seq, rolloutId: this.rolloutId, at, actor, type: event.type, payload, outcome: "applied", reason: null, details: details ?? null });
      if (before !== this.state.phase || isFinal(this.state.phase)) {
        this.store.setPhase(this.rolloutId, this.state.phase, !isFinal(this.state.phase), at);
      }
      return { ok: true, seq, state: this.state };
    });
    this.bus?.emit({ rolloutId: this.rolloutId, lb: this.lb, kind: "event" });
    return result;
  }

  /** Records an engine fact that is not a state-machine event (outcome `info`). */
  note(type: InfoEventType, payload: Record<string, unknown>, details?: Record<string, unknown> | null, at = Date.now(), leaseToken: number | null = null): number {
    const seq = this.store.write(() => {
      this.catchUp();
      const full = { type, ...payload };
      const s = this.store.appendEvent({ rolloutId: this.rolloutId, at, actor: "engine", type, payload: full, outcome: "info", details }, leaseToken);
      this.fold({ seq: s, rolloutId: this.rolloutId, at, actor: "engine", type, payload: full, outcome: "info", reason: null, details: details ?? null });
      return s;
    });
    this.bus?.emit({ rolloutId: this.rolloutId, lb: this.lb, kind: "event" });
    return seq;
  }

  /** The views of the rollout as of the last event, derived once per change. */
  readModel(): RolloutReadModel {
    if (this.model?.seq !== this.lastSeq) {
      const batches = batchViews(this.state);
      this.model = { seq: this.lastSeq, value: { batches, instanceSteps: instanceSteps(batches) } };
    }
    return this.model.value;
  }
}

/**
 * A rollout's journal as one engine term sees it: every event it appends carries the term's lease
 * token, and a refusal (the lease expired or passed to another engine) is reported to `onStale`
 * before it is thrown, so the engine stops driving the rollout at the first refused write.
 */
export class FencedJournal {
  constructor(
    readonly journal: RolloutJournal,
    readonly leaseToken: number,
    private readonly onStale: (err: StaleLeaseError) => void,
  ) {}

  get rolloutId(): string {
    return this.journal.rolloutId;
  }
  get lb(): string {
    return this.journal.lb;
  }
  get createInput(): CreateRolloutInput {
    return this.journal.createInput;
  }
  get state(): RolloutState {
    return this.journal.state;
  }
  get events(): readonly StoredEvent[] {
    return this.journal.events;
  }
  get started(): ReadonlyMap<string, number> {
    return this.journal.started;
  }

  catchUp(): StoredEvent[] {
    return this.journal.catchUp();
  }

  append(event: RolloutEvent, details?: Record<string, unknown> | null): CheckedAppend {
    return this.guard(() => this.journal.append(event, details, this.leaseToken));
  }

  note(type: InfoEventType, payload: Record<string, unknown>, details?: Record<string, unknown> | null, at = Date.now()): number {
    return this.guard(() => this.journal.note(type, payload, details, at, this.leaseToken));
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof StaleLeaseError) this.onStale(err);
      throw err;
    }
  }
}

/** Journals kept per store (least recently used evicted; an evicted one is simply rebuilt from the log). */
const MAX_JOURNALS = 64;

/** The process's journals of one store, one per rollout. Built once by the runtime. */
export class Journals {
  private readonly byId = new Map<string, RolloutJournal>();

  constructor(
    readonly store: RotorStore,
    private readonly bus: ChangeBus | null = null,
  ) {}

  /** The rollout's journal, caught up with the log; null if there is no such rollout. */
  get(rolloutId: string): RolloutJournal | null {
    let j = this.byId.get(rolloutId);
    if (j) {
      this.byId.delete(rolloutId);
    } else {
      const row = this.store.rollout(rolloutId);
      if (!row) return null;
      j = new RolloutJournal(this.store, rolloutId, row.createInput as CreateRolloutInput, this.bus);
    }
    this.byId.set(rolloutId, j);
    while (this.byId.size > MAX_JOURNALS) {
      const oldest = this.byId.keys().next().value;
      if (oldest === undefined) break;
      this.byId.delete(oldest);
    }
    j.catchUp();
    return j;
  }
}
