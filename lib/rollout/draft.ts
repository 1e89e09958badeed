/**
 * Copy-on-write editing of a RolloutState inside one transition.
 *
 * The first write to an instance's record copies its chunk (CHUNK records) and the chunk list once;
 * later writes in the same transition reuse those copies. The input state is never mutated, and
 * untouched chunks are shared between the old and the new state (structural sharing).
 *
 * Instances that take the same change go through `many`: the members of the lockstep (state.ts) take
 * it once, in the lockstep's shared fields and step records, so a step of a batch costs O(1) in
 * copies whatever the batch size; the others are edited one by one. A change to one instance (`patch`,
 * `setStep`) first takes it out of the lockstep (`detach`: its record gets what the lockstep held).
 *
 * Within one transition a record is copied once and that copy (new, never seen outside) is then
 * changed in place; the same goes for step records and the lockstep's parts. `inService` is kept in
 * step with every instance's `inRotation` here, and only here.
 */
import { copyState, keepUniform, sameIds, sameSteps, uniformStart } from "./draft-support";
import { CHUNK, LOCKSTEP_FIELDS, cloneInstance, cloneSteps, getInstance, inLockstep, instanceField, instanceStep, mergeFields, withLockstep } from "./records";
import type { InstanceState, Lockstep, LockstepFields, RolloutState, StepRecord, StepRecords } from "./state";
import type { Rejection, StepName } from "./types";

/** CHUNK, read once (an imported binding is a property read on every use once compiled to CommonJS). */
const SLOTS = CHUNK;

/** At most this many distinct step-record sets are told apart when a lockstep forms. */
const MAX_FORM_GROUPS = 4;

export class Draft {
  // Set in the constructor, not as class fields: a draft is made on every accepted event, and
  // defining class fields one by one costs more than the assignments.
  declare readonly s: RolloutState;
  declare private outerCopied: boolean;
  // Created on the first edit: most events (observations, gates) never touch a record.
  declare private copiedChunks: Set<number> | null;
  /** Records copied in this transition: further edits change them in place. */
  declare private mine: Set<InstanceState> | null;
  /** Step records copied in this transition (of records in `mine`). */
  declare private mineSteps: Set<StepRecords> | null;
  /** Which parts of `s.lockstep` are this transition's own copies. */
  declare private lsOwn: boolean;
  declare private stepsOwn: boolean;

  constructor(base: RolloutState) {
    this.s = copyState(base);
    this.outerCopied = false;
    this.copiedChunks = null;
    this.mine = null;
    this.mineSteps = null;
    this.lsOwn = false;
    this.stepsOwn = false;
  }

  /** The instance as it is now (a new object for a lockstep member: read fields with `field` in loops). */
  get(id: string): InstanceState {
    const inst = getInstance(this.s, id);
    if (inst === undefined) throw new Error(`rollout ${this.s.id}: unknown instance ${id}`);
    return inst;
  }

  has(id: string): boolean {
    return this.s.locator[id] !== undefined;
  }

  /** One field of an instance as it is now, without building the instance. */
  field<K extends keyof LockstepFields>(id: string, key: K): InstanceState[K] {
    const v = instanceField(this.s, id, key);
    if (v === undefined && !this.has(id)) throw new Error(`rollout ${this.s.id}: unknown instance ${id}`);
    return v as InstanceState[K];
  }

  /** An instance's record of one step as it is now. */
  step(id: string, step: StepName): StepRecord {
    const r = instanceStep(this.s, id, step);
    if (r === undefined) throw new Error(`rollout ${this.s.id}: unknown instance ${id}`);
    return r;
  }

  private isMember(id: string): boolean {
    const ls = this.s.lockstep;
    return ls !== null && inLockstep(ls, id);
  }

  /** Of `ids`, those whose field is `value`; at once when they are the lockstep's and it holds the field. */
  having<K extends keyof LockstepFields>(ids: string[], key: K, value: InstanceState[K]): string[] {
    const ls = this.s.lockstep;
    if (ls !== null && ids === ls.ids) {
      const v = ls.fields[key];
      if (v !== undefined) return v === value ? ids : [];
    }
    return ids.filter((id) => this.field(id, key) === value);
  }

  /** The record currently in the instance's slot. */
  private own(id: string): InstanceState {
    const pos = this.s.locator[id];
    const r = pos === undefined ? undefined : this.s.records[Math.floor(pos / SLOTS)]?.[pos % SLOTS];
    if (r === undefined) throw new Error(`rollout ${this.s.id}: unknown instance ${id}`);
    return r;
  }

  /** Put `record` (new, this transition's own) in the instance's slot, copying its chunk once. */
  private place(id: string, record: InstanceState, mine = true): void {
    const pos = this.s.locator[id];
    if (pos === undefined) throw new Error(`rollout ${this.s.id}: unknown instance ${id}`);
    const c = Math.floor(pos / SLOTS);
    if (!this.outerCopied) {
      this.s.records = this.s.records.slice();
      this.outerCopied = true;
    }
    let chunk = this.s.records[c];
    if (chunk === undefined) throw new Error(`rollout ${this.s.id}: instance ${id} outside the chunks`);
    const copied = (this.copiedChunks ??= new Set());
    if (!copied.has(c)) {
      chunk = chunk.slice();
      this.s.records[c] = chunk;
      copied.add(c);
    }
    chunk[pos % SLOTS] = record;
    if (mine) (this.mine ??= new Set()).add(record);
  }

  /** This transition's own copy of the instance's record; safe to change. */
  private writable(id: string): InstanceState {
    const orig = this.own(id);
    if (this.mine?.has(orig)) return orig;
    const copy = cloneInstance(orig);
    this.place(id, copy);
    return copy;
  }

  private apply(m: InstanceState, p: Partial<InstanceState>): void {
    if (p.inRotation !== undefined && p.inRotation !== m.inRotation) this.s.inService += p.inRotation ? 1 : -1;
    Object.assign(m, p);
  }

  private stepsOf(m: InstanceState): StepRecords {
    const mine = (this.mineSteps ??= new Set());
    if (!mine.has(m.steps)) {
      m.steps = cloneSteps(m.steps);
      mine.add(m.steps);
    }
    return m.steps;
  }

  /** The lockstep, copied once in this transition before any change. */
  private lockstep(): Lockstep {
    const ls = this.s.lockstep;
    if (ls === null) throw new Error(`rollout ${this.s.id}: no lockstep`);
    if (this.lsOwn) return ls;
    const copy: Lockstep = { run: ls.run, batch: ls.batch, ids: ls.ids, fields: ls.fields, steps: ls.steps };
    this.s.lockstep = copy;
    this.lsOwn = true;
    return copy;
  }

  private dropLockstep(): void {
    this.s.lockstep = null;
    this.lsOwn = this.stepsOwn = false;
  }

  /** Take members out of the lockstep: their records get everything the lockstep held for them. */
  separate(ids: readonly string[]): void {
    const ls0 = this.s.lockstep;
    if (ls0 === null) return;
    const leaving = new Set(ids.filter((id) => inLockstep(ls0, id)));
    if (leaving.size === 0) return;
    const ls = this.lockstep();
    for (const id of leaving) this.place(id, withLockstep(this.own(id), ls));
    // The records now share the lockstep's step records: a later lockstep change must copy them first.
    this.stepsOwn = false;
    ls.ids = ls.ids.filter((id) => !leaving.has(id));
    if (ls.ids.length === 0) this.dropLockstep();
  }

  /** End the lockstep: every member's record gets what the lockstep held. */
  flush(): void {
    const ls = this.s.lockstep;
    if (ls === null) return;
    // Not added to `mine`: a later edit in this transition copies once more, which is rare and safe.
    for (const id of ls.ids) this.place(id, withLockstep(this.own(id), ls), false);
    this.dropLockstep();
  }

  /**
   * Start a lockstep for the cursor's run batch `ids` (in batch order) unless one is running. Its
   * active (not skipped) instances whose step records are equal join: the largest such group, so one
   * shared set of step records is true for every member. Fields every member has alike are held by
   * the lockstep from the start (the same values: nothing changes), so questions such as "which are
   * registered" are answered at once. Fewer than two: no lockstep.
   */
  formLockstep(ids: readonly string[]): void {
    if (this.s.lockstep !== null || ids.length < 2) return;
    const groups: Array<{ steps: StepRecords; ids: string[]; first: InstanceState; fields: ReturnType<typeof uniformStart> }> = [];
    for (const id of ids) {
      const own = this.own(id);
      if (own.status === "skipped") continue;
      let g = groups[0];
      if (g === undefined || !sameSteps(g.steps, own.steps)) {
        g = groups.find((x) => sameSteps(x.steps, own.steps));
        if (g === undefined) {
          if (groups.length >= MAX_FORM_GROUPS) continue;
          g = { steps: own.steps, ids: [], first: own, fields: uniformStart(own) };
          groups.push(g);
        }
      }
      g.ids.push(id);
      if (own !== g.first) keepUniform(g.fields, own);
    }
    let best = groups[0];
    for (const g of groups) if (best === undefined || g.ids.length > best.ids.length) best = g;
    if (best === undefined || best.ids.length < 2) return;
    // The shared step records may be one member's own (copied in this transition): never change them in place.
    this.mineSteps?.delete(best.steps);
    const c = this.s.cursor;
    // Everyone joining: keep the caller's array (the batch's own ids), so effects name the lockstep's ids.
    const members = best.ids.length === ids.length ? (ids as string[]) : best.ids;
    this.s.lockstep = { run: c.run, batch: c.batch, ids: members, fields: mergeFields({}, best.fields), steps: best.steps };
    this.lsOwn = true;
    this.stepsOwn = false;
  }

  /**
   * Make the lockstep's members a subset of `ids`, so it can take their change: when most members are
   * in `ids` the others leave it; otherwise those in `ids` leave it. Returns whether members remain to
   * take the change.
   */
  private narrowTo(ids: readonly string[]): boolean {
    const ls = this.s.lockstep;
    if (ls === null) return false;
    let covered = 0;
    for (const id of ids) if (inLockstep(ls, id)) covered++;
    if (covered === 0) return false;
    if (covered === ls.ids.length) return true;
    if (2 * covered >= ls.ids.length) {
      const keep = new Set(ids);
      this.separate(ls.ids.filter((id) => !keep.has(id)));
      return true;
    }
    this.separate(ids);
    return false;
  }

  /** The change, once, for every member of the lockstep. */
  private applyToLockstep(patch: LockstepFields | null, step: StepName | null, record: ((prev: StepRecord) => StepRecord) | null): void {
    const ls = this.lockstep();
    if (patch !== null) {
      const to = patch.inRotation;
      if (to !== undefined) {
        const now = ls.fields.inRotation;
        if (now !== undefined) {
          if (now !== to) this.s.inService += to ? ls.ids.length : -ls.ids.length;
        } else {
          for (const id of ls.ids) if (this.own(id).inRotation !== to) this.s.inService += to ? 1 : -1;
        }
      }
      ls.fields = mergeFields(ls.fields, patch);
    }
    if (step !== null && record !== null) {
      if (!this.stepsOwn) {
        ls.steps = cloneSteps(ls.steps);
        this.stepsOwn = true;
      }
      ls.steps[step] = record(ls.steps[step]);
    }
  }

  /**
   * The same change for several instances: `patch` for their fields and, with a step, `record(prev)`
   * for their record of it. The lockstep's members take it once; the others one by one, where
   * instances with the same previous record share the new one.
   */
  many(ids: readonly string[], patch: LockstepFields | null, step: StepName | null = null, record: ((prev: StepRecord) => StepRecord) | null = null): void {
    if (ids.length === 0) return;
    const ls = this.s.lockstep;
    if (ls !== null && (ids === ls.ids || sameIds(ids, ls.ids))) {
      // Exactly the members (the usual case): O(1). Keep the caller's array, the effect's ids.
      if (ids !== ls.ids) this.lockstep().ids = ids as string[];
      this.applyToLockstep(patch, step, record);
      return;
    }
    const shared = this.narrowTo(ids);
    if (shared) this.applyToLockstep(patch, step, record);
    let memo: Map<StepRecord, StepRecord> | null = null;
    for (const id of ids) {
      if (shared && this.isMember(id)) continue;
      const m = this.writable(id);
      if (patch !== null) this.apply(m, patch);
      if (step !== null && record !== null) {
        const steps = this.stepsOf(m);
        const prev = steps[step];
        memo ??= new Map();
        let rec = memo.get(prev);
        if (rec === undefined) {
          rec = record(prev);
          memo.set(prev, rec);
        }
        steps[step] = rec;
      }
    }
  }

  /**
   * Change one instance. A member stays in the lockstep when the change touches only fields the
   * lockstep does not hold (or sets them to what it holds), e.g. an observed in-flight count, and not
   * its status; otherwise it leaves the lockstep first. Returns the instance's record, as it is now.
   */
  patch(id: string, p: Partial<InstanceState>): InstanceState {
    const ls = this.s.lockstep;
    if (ls !== null && inLockstep(ls, id)) {
      if (!this.ownFieldsOnly(ls, p)) this.separate([id]);
      else {
        const m = this.writable(id);
        // Only fields outside the lockstep change: the own record has their current values.
        const own: Partial<InstanceState> = {};
        for (const k in p) if (ls.fields[k as keyof LockstepFields] === undefined) (own as Record<string, unknown>)[k] = p[k as keyof InstanceState];
        this.apply(m, own);
        return withLockstep(m, ls);
      }
    }
    const m = this.writable(id);
    this.apply(m, p);
    return m;
  }

  /** Whether `p` changes nothing the lockstep holds for its members. */
  private ownFieldsOnly(ls: Lockstep, p: Partial<InstanceState>): boolean {
    for (const k in p) {
      const v = p[k as keyof InstanceState];
      if (v === undefined) continue;
      // Members are the batch's active instances: a status of its own (a skip) takes one out.
      if (k === "id" || k === "steps" || k === "status") return false;
      if (!LOCKSTEP_FIELDS.has(k)) continue;
      const held = ls.fields[k as keyof LockstepFields];
      if (held !== undefined && held !== v) return false;
    }
    return true;
  }

  /** Replace one step record of an instance (and optionally patch the instance itself). */
  setStep(id: string, step: StepName, record: StepRecord, instancePatch: Partial<InstanceState> = {}): InstanceState {
    if (this.isMember(id)) this.separate([id]);
    const m = this.patch(id, instancePatch);
    this.stepsOf(m)[step] = record;
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
