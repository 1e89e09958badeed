/**
 * Copy-on-write editing of a RolloutState inside one transition.
 *
 * The first write to an instance copies its chunk (CHUNK instances) and the chunk list once; later
 * writes in the same transition reuse those copies. The input state is never mutated, and untouched
 * chunks are shared between the old and the new state (structural sharing), so one event costs
 * O(chunks + changed instances), not O(fleet).
 *
 * Within one transition an instance is copied once and that copy (new, never seen outside) is then
 * changed in place; the same goes for its step records. `inService` is kept in step with every
 * instance's `inRotation` here, and only here.
 */
import { CHUNK, getInstance, type InstanceState, type RolloutState, type StepRecord, type StepRecords } from "./state";
import type { Rejection, StepName } from "./types";

/** A field-by-field copy: one allocation with a stable shape (much faster than spreading). */
function cloneInstance(i: InstanceState): InstanceState {
  return {
    id: i.id,
    zone: i.zone,
    fromVersion: i.fromVersion,
    targetVersion: i.targetVersion,
    batch: i.batch,
    rollbackBatch: i.rollbackBatch,
    inServiceAtStart: i.inServiceAtStart,
    status: i.status,
    step: i.step,
    steps: i.steps,
    forward: i.forward,
    touched: i.touched,
    registered: i.registered,
    inRotation: i.inRotation,
    healthy: i.healthy,
    version: i.version,
    lbState: i.lbState,
    inFlight: i.inFlight,
  };
}

function cloneSteps(s: StepRecords): StepRecords {
  return {
    deregister: s.deregister,
    drain: s.drain,
    stop: s.stop,
    deploy: s.deploy,
    start: s.start,
    verify: s.verify,
    register: s.register,
    "wait-in-service": s["wait-in-service"],
  };
}

export class Draft {
  readonly s: RolloutState;
  private outerCopied = false;
  // Created on the first edit: most events (observations, gates) never touch an instance.
  private copiedChunks: Set<number> | null = null;
  /** Instances copied in this transition (id → copy): further edits change the copy in place. */
  private edited: Map<string, InstanceState> | null = null;
  /** Step records copied in this transition (by their instance's copy). */
  private editedSteps: Set<StepRecords> | null = null;

  constructor(base: RolloutState) {
    this.s = { ...base };
  }

  get(id: string): InstanceState {
    const mine = this.edited?.get(id);
    if (mine !== undefined) return mine;
    const inst = getInstance(this.s, id);
    if (inst === undefined) throw new Error(`rollout ${this.s.id}: unknown instance ${id}`);
    return inst;
  }

  has(id: string): boolean {
    return this.s.locator[id] !== undefined;
  }

  /** This transition's own copy of an instance, placed in a copied chunk; safe to change. */
  private edit(id: string): InstanceState {
    const edited = (this.edited ??= new Map());
    const mine = edited.get(id);
    if (mine !== undefined) return mine;
    const pos = this.s.locator[id];
    if (pos === undefined) throw new Error(`rollout ${this.s.id}: unknown instance ${id}`);
    const c = Math.floor(pos / CHUNK);
    if (!this.outerCopied) {
      this.s.instances = this.s.instances.slice();
      this.outerCopied = true;
    }
    let chunk = this.s.instances[c];
    if (chunk === undefined) throw new Error(`rollout ${this.s.id}: instance ${id} outside the chunks`);
    const copied = (this.copiedChunks ??= new Set());
    if (!copied.has(c)) {
      chunk = chunk.slice();
      this.s.instances[c] = chunk;
      copied.add(c);
    }
    const orig = chunk[pos % CHUNK];
    if (orig === undefined) throw new Error(`rollout ${this.s.id}: instance ${id} missing`);
    const copy = cloneInstance(orig);
    chunk[pos % CHUNK] = copy;
    edited.set(id, copy);
    return copy;
  }

  private apply(m: InstanceState, p: Partial<InstanceState>): void {
    if (p.inRotation !== undefined && p.inRotation !== m.inRotation) this.s.inService += p.inRotation ? 1 : -1;
    Object.assign(m, p);
  }

  private stepsOf(m: InstanceState): StepRecords {
    const mine = (this.editedSteps ??= new Set());
    if (!mine.has(m.steps)) {
      m.steps = cloneSteps(m.steps);
      mine.add(m.steps);
    }
    return m.steps;
  }

  patch(id: string, p: Partial<InstanceState>): InstanceState {
    const m = this.edit(id);
    this.apply(m, p);
    return m;
  }

  /** Replace one step record of an instance (and optionally patch the instance itself). */
  setStep(id: string, step: StepName, record: StepRecord, instancePatch: Partial<InstanceState> = {}): InstanceState {
    const m = this.edit(id);
    this.apply(m, instancePatch);
    this.stepsOf(m)[step] = record;
    return m;
  }

  /** Update one step record of an instance (and optionally the instance itself). */
  patchStep(id: string, step: StepName, p: Partial<StepRecord>, instancePatch: Partial<InstanceState> = {}): InstanceState {
    const m = this.edit(id);
    this.apply(m, instancePatch);
    const steps = this.stepsOf(m);
    steps[step] = { ...steps[step], ...p };
    return m;
  }
}

/** For exhaustive switches: a new case added to a union fails to compile here. */
export function assertNever(x: never, what = "value"): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}

/** What an event handler decided: accept the draft, reject with a reason, or accept with nothing to change. */
export type HandlerOutcome = { kind: "accept"; draft: Draft } | { kind: "reject"; rejection: Rejection } | { kind: "unchanged" };

export function reject(code: Rejection["code"], message: string): HandlerOutcome {
  return { kind: "reject", rejection: { code, message } };
}

export function accept(draft: Draft): HandlerOutcome {
  return { kind: "accept", draft };
}
