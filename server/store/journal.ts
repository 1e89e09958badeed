/**
 * A rollout's journal: its state as the replay of its applied events, kept caught up with the log,
 * and the one way events enter it (checked appends).
 *
 * A checked append runs in one write transaction: catch up on events other writers appended (another
 * process, the engine, a server action), run the event through lib's `transition`, and append it as
 * `applied` (state advances) or `rejected` (with the machine's reason; the state does not change).
 * So the applied events, in seq order, always replay to the state every process sees.
 */
import type { RolloutEvent, RolloutPhase } from "@/lib/rollout/types";
import type { RolloutState } from "@/lib/rollout/state";
import type { InfoEventType, StoredEvent } from "@/lib/views";
import { emitChange } from "@/server/engine/bus";
import { applyEvent, initialState, isFinal, type CreateInput } from "@/server/engine/machine";
import type { RotorStore } from "./index";

export type CheckedAppend =
  | { ok: true; seq: number; state: RolloutState }
  | { ok: false; seq: number; code: string; message: string; state: RolloutState };

export class RolloutJournal {
  state: RolloutState;
  /** The last seq of this rollout's events folded into `state` (applied or not). */
  lastSeq = 0;
  /** effectId → when the engine reported `step-started` for it. */
  readonly started = new Map<string, number>();
  readonly lb: string;

  constructor(
    readonly store: RotorStore,
    readonly rolloutId: string,
    readonly createInput: CreateInput,
  ) {
    this.state = initialState(createInput);
    this.lb = this.state.lb;
  }

  private fold(e: StoredEvent): void {
    this.lastSeq = e.seq;
    if (e.outcome !== "applied") return;
    const event = { ...e.payload, at: e.at, actor: e.actor } as RolloutEvent;
    const r = applyEvent(this.state, event);
    if (!r.ok) {
      // Never expected: every applied event was accepted against exactly this state when appended.
      throw new Error(`replay of rollout ${this.rolloutId} diverged at seq ${e.seq} (${e.type}): ${r.message}`);
    }
    this.state = r.state;
    if (event.type === "step-started") this.started.set(event.effectId, e.at);
  }

  /** Folds in events appended since the last catch-up; returns them. */
  catchUp(): StoredEvent[] {
    const events = this.store.events(this.rolloutId, this.lastSeq);
    for (const e of events) this.fold(e);
    return events;
  }

  /** Appends a state-machine event if the machine accepts it, else records it as rejected. */
  append(event: RolloutEvent, details?: Record<string, unknown> | null): CheckedAppend {
    const result = this.store.write((): CheckedAppend => {
      this.catchUp();
      const { at, actor, ...payload } = event;
      const r = applyEvent(this.state, event);
      if (!r.ok) {
        const seq = this.store.appendEvent({
          rolloutId: this.rolloutId, at, actor, type: event.type, payload, outcome: "rejected", reason: `${r.code}: ${r.message}`, details,
        });
        this.lastSeq = seq;
        return { ok: false, seq, code: r.code, message: r.message, state: this.state };
      }
      const seq = this.store.appendEvent({ rolloutId: this.rolloutId, at, actor, type: event.type, payload, outcome: "applied", details });
      const before: RolloutPhase = this.state.phase;
      this.state = r.state;
      this.lastSeq = seq;
      if (event.type === "step-started") this.started.set(event.effectId, at);
      if (before !== this.state.phase || isFinal(this.state.phase)) {
        this.store.setPhase(this.rolloutId, this.state.phase, !isFinal(this.state.phase), at);
      }
      return { ok: true, seq, state: this.state };
    });
    emitChange({ rolloutId: this.rolloutId, lb: this.lb, kind: "event" });
    return result;
  }

  /** Records an engine fact that is not a state-machine event (outcome `info`). */
  note(type: InfoEventType, payload: Record<string, unknown>, details?: Record<string, unknown> | null, at = Date.now()): number {
    const seq = this.store.appendEvent({ rolloutId: this.rolloutId, at, actor: "engine", type, payload: { type, ...payload }, outcome: "info", details });
    emitChange({ rolloutId: this.rolloutId, lb: this.lb, kind: "event" });
    return seq;
  }
}

const g = globalThis as unknown as { __rotorJournals?: WeakMap<RotorStore, Map<string, RolloutJournal>> };

/** Journals kept per store (least recently used evicted; an evicted one is simply rebuilt from the log). */
const MAX_JOURNALS = 64;

/** The process's journal of a rollout (one per store and rollout), caught up with the log; null if unknown. */
export function getJournal(store: RotorStore, rolloutId: string): RolloutJournal | null {
  const byStore = (g.__rotorJournals ??= new WeakMap());
  let journals = byStore.get(store);
  if (!journals) byStore.set(store, (journals = new Map()));
  let j = journals.get(rolloutId);
  if (j) {
    journals.delete(rolloutId);
  } else {
    const row = store.rollout(rolloutId);
    if (!row) return null;
    j = new RolloutJournal(store, rolloutId, row.createInput as CreateInput);
  }
  journals.set(rolloutId, j);
  while (journals.size > MAX_JOURNALS) {
    const oldest = journals.keys().next().value;
    if (oldest === undefined) break;
    journals.delete(oldest);
  }
  j.catchUp();
  return j;
}
