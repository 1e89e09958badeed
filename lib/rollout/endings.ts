/**
 * The two ways out of a rollout in progress, once no step is outstanding.
 * - Abort: put the healthy instances the rollout took out back into rotation, then `aborted`.
 * - Rollback: run every touched instance back to its previous version, newest batch first, with the
 *   same per-instance procedure and capacity guard, then `rolled-back`.
 */
import type { Draft } from "./draft";
import { listIds } from "./plan";
import { FRESH_STEPS, finish, moveToBatch } from "./cursor";
import { instanceField } from "./records";
import { listInstances, type InstanceState, type RolloutState } from "./state";
import type { RolloutPlan } from "./types";

/**
 * Abort puts back the instances this rollout took out of rotation (it deregistered them, or they are
 * in the batch in progress and not yet in service) whose server is healthy: never stopped, or
 * verified since. Skipped instances stay where the operator left them.
 */
export function returnable(inst: InstanceState): boolean {
  const ours = !inst.registered || inst.status === "running" || inst.status === "failed";
  return inst.touched && ours && !inst.inRotation && inst.healthy && inst.status !== "skipped";
}

/**
 * Abort once no step is outstanding: put the healthy instances the rollout took out back into rotation
 * (register → wait-in-service), then `aborted`. Stopped or failed instances stay out and are listed.
 */
export function beginAbort(d: Draft, at: number): void {
  d.flush();
  const s = d.s;
  s.abortRequested = false;
  s.rollbackRequested = false;
  s.pauseRequested = false;
  s.outstanding = [];
  s.failure = null;
  s.bakeUntil = null;
  s.bakeRemainingMs = null;
  const c = s.cursor;
  if (s.startedAt === null || c.run === "return") {
    finish(d, "aborted", at);
    return;
  }
  // Usually only the batch in progress; during a rollback, later rollback batches can hold
  // instances the forward run took out, so look at every instance.
  const returning = listInstances(s)
    .filter(returnable)
    .map((i) => i.id);
  if (returning.length === 0) {
    finish(d, "aborted", at);
    return;
  }
  s.returning = returning;
  s.cursor = { run: "return", batch: c.batch, stage: "register", status: "todo" };
  s.effectCounts = {};
  s.phase = "aborting";
  s.notes = [...s.notes, `Abort: returning ${listIds(returning)} to rotation`];
}

/** Per plan: the instances without a known previous version, in plan order (fromVersion never changes). */
const withoutFromVersion = new WeakMap<RolloutPlan, string[]>();

/** Touched instances without a known previous version (rollback cannot take them back). */
export function unknownFromVersions(s: RolloutState): string[] {
  let ids = withoutFromVersion.get(s.plan);
  if (ids === undefined) {
    ids = s.plan.instances.filter((i) => i.fromVersion === null).map((i) => i.id);
    withoutFromVersion.set(s.plan, ids);
  }
  return ids.filter((id) => instanceField(s, id, "touched") === true);
}

/**
 * Rollback batches: every touched instance, newest forward batch first, grouped by the version it goes
 * back to (groups in order of their newest instance), each group cut into batches of plan.batchSize.
 * Example: batches [a b] [c d] [e] done or started, all from v1, batch size 2 → [e c] [d a] [b].
 */
export function planRollback(s: RolloutState): Array<{ fromVersion: string; ids: string[] }> {
  const touched = listInstances(s).filter((i) => i.touched);
  const order = touched.map((inst, pos) => ({ inst, pos })).sort((x, y) => y.inst.batch - x.inst.batch || x.pos - y.pos);
  const groups = new Map<string, string[]>();
  for (const { inst } of order) {
    const v = inst.fromVersion ?? "";
    const g = groups.get(v);
    if (g) g.push(inst.id);
    else groups.set(v, [inst.id]);
  }
  const out: Array<{ fromVersion: string; ids: string[] }> = [];
  const size = Math.max(1, s.plan.batchSize);
  for (const [fromVersion, ids] of groups) {
    for (let i = 0; i < ids.length; i += size) out.push({ fromVersion, ids: ids.slice(i, i + size) });
  }
  return out;
}

export function beginRollback(d: Draft, at: number): void {
  d.flush();
  const s = d.s;
  s.rollbackRequested = false;
  s.abortRequested = false;
  s.pauseRequested = false;
  s.outstanding = [];
  s.failure = null;
  s.bakeUntil = null;
  s.bakeRemainingMs = null;
  s.returning = [];
  s.endedAt = null;
  s.leftOut = [];
  const batches = planRollback(s);
  s.direction = "rollback";
  s.rollbackBatches = batches.map((b, index) => ({
    index,
    fromVersion: b.fromVersion,
    instanceIds: b.ids,
    status: "pending",
    startedAt: null,
    endedAt: null,
  }));
  batches.forEach((b, index) => {
    for (const id of b.ids) {
      const inst = d.get(id);
      d.patch(id, {
        forward: { status: inst.status, step: inst.step, steps: inst.steps },
        status: "pending",
        step: null,
        steps: FRESH_STEPS,
        rollbackBatch: index,
      });
    }
  });
  s.notes = [...s.notes, `Rollback of ${batches.reduce((n, b) => n + b.ids.length, 0)} instances in ${batches.length} batches`];
  moveToBatch(d, "rollback", 0);
  if (batches.length === 0) {
    finish(d, "rolled-back", at);
    return;
  }
  s.phase = "rolling-back";
}
