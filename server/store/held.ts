/**
 * Which instances active rollouts hold out of rotation, read from their durable state (the event log
 * through the journals), never from a process's memory: after a restart the provider may no longer
 * list an instance Rotor deregistered (AWS drops it from the load balancer's listing once drained),
 * yet it is still part of the fleet, out of service, until the rollout puts it back.
 *
 * An instance is held from the moment the engine starts its deregister step (it may be out already,
 * nobody knows until the step reports) until its register step succeeds — in the rollout's own load
 * balancer and every other one it was registered in at the start (`plan.instances[].alsoIn`).
 */
import { isFinal, type InstanceState, type RolloutState } from "@/lib/rollout/state";
import type { RotorStore } from "./index";
import type { Journals } from "./journal";

export interface HeldInstance {
  id: string;
  /** The rollout holding it, and that rollout's load balancer. */
  rolloutId: string;
  rolloutLb: string;
  zone: string;
  /** What the rollout believes the instance runs (null when unknown). */
  version: string | null;
  /** "taken out of rotation by rollout r-… (batch 2)". */
  description: string;
}

/** The instances one load balancer has held out of rotation by active rollouts. */
export type HeldOut = (lb: string) => HeldInstance[];

function isHeld(inst: InstanceState): boolean {
  // Replace: a terminated instance is gone from the group, not out of rotation; listing it would leave a
  // row for an instance that no longer exists until the rollout ends.
  if (inst.server === "terminated") return false;
  const deregister = inst.steps.deregister;
  return !inst.registered || (deregister.status === "running" && deregister.startedAt !== null);
}

function batchLabel(s: RolloutState, inst: InstanceState): string {
  return s.direction === "rollback" && inst.rollbackBatch !== null ? `rollback batch ${inst.rollbackBatch + 1}` : `batch ${inst.batch + 1}`;
}

/** Every held instance of a rollout, by load balancer. */
function heldByLb(s: RolloutState): Map<string, HeldInstance[]> {
  const out = new Map<string, HeldInstance[]>();
  if (isFinal(s.phase)) return out;
  s.instances.forEach((inst, pos) => {
    if (!isHeld(inst)) return;
    const held: HeldInstance = {
      id: inst.id,
      rolloutId: s.id,
      rolloutLb: s.lb,
      zone: inst.zone,
      version: inst.version,
      description: `taken out of rotation by rollout ${s.id} (${batchLabel(s, inst)})`,
    };
    for (const lb of new Set([s.lb, ...(s.plan.instances[pos]?.alsoIn ?? [])])) {
      let list = out.get(lb);
      if (!list) out.set(lb, (list = []));
      list.push(held);
    }
  });
  return out;
}

/**
 * `heldOut(lb)` for the fleet monitor: asked on every refresh, so each rollout's answer is derived
 * once per change of its log (the journal's last seq) and reused until then.
 */
export function heldOutOfRotation(store: RotorStore, journals: Journals): HeldOut {
  const derived = new Map<string, { seq: number; byLb: Map<string, HeldInstance[]> }>();
  return (lb) => {
    const held: HeldInstance[] = [];
    const active = new Set<string>();
    for (const id of store.activeRolloutIds()) {
      const journal = journals.get(id);
      if (!journal) continue;
      active.add(id);
      let d = derived.get(id);
      if (d?.seq !== journal.lastSeq) {
        d = { seq: journal.lastSeq, byLb: heldByLb(journal.state) };
        derived.set(id, d);
      }
      held.push(...(d.byLb.get(lb) ?? []));
    }
    for (const id of derived.keys()) if (!active.has(id)) derived.delete(id);
    return held;
  };
}
