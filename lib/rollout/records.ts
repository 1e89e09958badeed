/**
 * Reading instances out of a RolloutState: an instance is its own record, with the lockstep's shared
 * fields and step records laid over it while it is a member (see state.ts). `getInstance` and
 * `listInstances` build the whole instance; the machine's hot paths read single fields with
 * `instanceField` / `instanceStep`, which build nothing.
 */
import type { InstanceState, LockstepFields, Lockstep, RolloutState, StepRecord, StepRecords } from "./state";
import type { StepName } from "./types";

/** Instances per chunk. */
export const CHUNK = 64;

/** A field-by-field copy: one allocation with a stable shape (much faster than spreading). */
export function cloneInstance(i: InstanceState): InstanceState {
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

export function cloneSteps(s: StepRecords): StepRecords {
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

/** Names of the fields a lockstep can hold. */
export const LOCKSTEP_FIELDS: ReadonlySet<string> = new Set(["status", "step", "touched", "healthy", "registered", "inRotation", "version", "lbState", "inFlight"]);

/**
 * The lockstep's fields with a patch applied: a new object, built field by field in a fixed order
 * (one per change, and far cheaper than spreading and writing keys), never holding undefined.
 */
export function mergeFields(f: LockstepFields, p: LockstepFields): LockstepFields {
  const o: LockstepFields = {};
  const status = p.status !== undefined ? p.status : f.status;
  if (status !== undefined) o.status = status;
  const step = p.step !== undefined ? p.step : f.step;
  if (step !== undefined) o.step = step;
  const touched = p.touched !== undefined ? p.touched : f.touched;
  if (touched !== undefined) o.touched = touched;
  const healthy = p.healthy !== undefined ? p.healthy : f.healthy;
  if (healthy !== undefined) o.healthy = healthy;
  const registered = p.registered !== undefined ? p.registered : f.registered;
  if (registered !== undefined) o.registered = registered;
  const inRotation = p.inRotation !== undefined ? p.inRotation : f.inRotation;
  if (inRotation !== undefined) o.inRotation = inRotation;
  const version = p.version !== undefined ? p.version : f.version;
  if (version !== undefined) o.version = version;
  const lbState = p.lbState !== undefined ? p.lbState : f.lbState;
  if (lbState !== undefined) o.lbState = lbState;
  const inFlight = p.inFlight !== undefined ? p.inFlight : f.inFlight;
  if (inFlight !== undefined) o.inFlight = inFlight;
  return o;
}

/** A member as it is now: a new object (its own record with the lockstep laid over it). */
export function withLockstep(own: InstanceState, ls: Lockstep): InstanceState {
  const f = ls.fields;
  // Field by field (not a spread and a loop): this runs for every member when a lockstep ends.
  return {
    id: own.id,
    zone: own.zone,
    fromVersion: own.fromVersion,
    targetVersion: own.targetVersion,
    batch: own.batch,
    rollbackBatch: own.rollbackBatch,
    inServiceAtStart: own.inServiceAtStart,
    status: f.status !== undefined ? f.status : own.status,
    step: f.step !== undefined ? f.step : own.step,
    steps: ls.steps,
    forward: own.forward,
    touched: f.touched !== undefined ? f.touched : own.touched,
    registered: f.registered !== undefined ? f.registered : own.registered,
    inRotation: f.inRotation !== undefined ? f.inRotation : own.inRotation,
    healthy: f.healthy !== undefined ? f.healthy : own.healthy,
    version: f.version !== undefined ? f.version : own.version,
    lbState: f.lbState !== undefined ? f.lbState : own.lbState,
    inFlight: f.inFlight !== undefined ? f.inFlight : own.inFlight,
  };
}

/** The instance's own record, without what the lockstep holds for it. */
export function ownRecord(state: RolloutState, id: string): InstanceState | undefined {
  const pos = state.locator[id];
  if (pos === undefined) return undefined;
  return state.records[Math.floor(pos / CHUNK)]?.[pos % CHUNK];
}

// Members by ids array: the arrays are never changed once made (a new array replaces them).
const memberSets = new WeakMap<readonly string[], ReadonlySet<string>>();

export function inLockstep(ls: Lockstep, id: string): boolean {
  let set = memberSets.get(ls.ids);
  if (set === undefined) {
    set = new Set(ls.ids);
    memberSets.set(ls.ids, set);
  }
  return set.has(id);
}

/** One field of an instance as it is now; undefined for an unknown id. */
export function instanceField<K extends keyof LockstepFields>(state: RolloutState, id: string, key: K): InstanceState[K] | undefined {
  const ls = state.lockstep;
  if (ls !== null && inLockstep(ls, id)) {
    const v = ls.fields[key];
    if (v !== undefined) return v as InstanceState[K];
  }
  return ownRecord(state, id)?.[key];
}

/** An instance's record of one step as it is now; undefined for an unknown id. */
export function instanceStep(state: RolloutState, id: string, step: StepName): StepRecord | undefined {
  const ls = state.lockstep;
  if (ls !== null && inLockstep(ls, id)) return ls.steps[step];
  return ownRecord(state, id)?.steps[step];
}

export function getInstance(state: RolloutState, id: string): InstanceState | undefined {
  const own = ownRecord(state, id);
  if (own === undefined) return undefined;
  const ls = state.lockstep;
  return ls !== null && inLockstep(ls, id) ? withLockstep(own, ls) : own;
}

/** Every instance in plan order. O(fleet): for views and tests, not for hot paths. */
export function listInstances(state: RolloutState): InstanceState[] {
  const all: InstanceState[] = [];
  for (const chunk of state.records) for (const r of chunk) all.push(r);
  const ls = state.lockstep;
  if (ls === null) return all;
  for (const id of ls.ids) {
    const pos = state.locator[id];
    const own = pos === undefined ? undefined : all[pos];
    if (pos !== undefined && own !== undefined) all[pos] = withLockstep(own, ls);
  }
  return all;
}
