/**
 * The two ways out of a rollout in progress, once no step is outstanding.
 * - Abort: put back into rotation every instance the rollout took out whose server is known to be as
 *   it was, then `aborted`. Instances in an unknown state stay out, and the notes say which and why.
 * - Rollback: run every touched instance back to its previous version, newest batch first, with the
 *   same per-instance procedure and capacity guard, then `rolled-back`.
 */
import { listIds } from "./plan";
import { finish, freshSteps, isReplace, moveToBatch } from "./cursor";
import { listInstances, type InstanceState, type RolloutState, getInstance } from "./state";

/** Taken out of rotation by this rollout (it deregistered it, or it is in the batch in progress) and not back. */
function takenOut(inst: InstanceState): boolean {
  if (inst.server === "terminated") return false;
  const ours = !inst.registered || inst.status === "running" || inst.status === "failed";
  return inst.touched && ours && !inst.inRotation && inst.status !== "skipped";
}

/**
 * Abort returns an instance it took out when its server is known to be as it was: still serving
 * (never stopped, or a stop that failed before stopping), or stopped with its code unchanged (the
 * deploy had not run, or refused its input) — that one is started and verified on its own version
 * first. A stopped instance with new code, or one in an unknown state (a hook failed after changing
 * something), stays out. Skipped instances stay where the operator left them.
 */
export function returnable(inst: InstanceState): boolean {
  if (!takenOut(inst)) return false;
  if (inst.server === "serving") return true;
  return inst.server === "stopped" && inst.version !== null && inst.steps.deploy.status !== "done";
}

/** Why an instance taken out stays out on abort. */
function staysOutBecause(inst: InstanceState): string {
  if (inst.server === "stopped" && inst.steps.deploy.status === "done") {
    return `${inst.id} stays out of rotation: it is stopped with ${inst.version ?? "the new version"} deployed and not verified`;
  }
  if (inst.server === "stopped") return `${inst.id} stays out of rotation: it is stopped and its code is unknown after a failed deploy`;
  return `${inst.id} stays out of rotation: ${inst.step ?? "a step"} failed after it may have changed the server, so its state is unknown`;
}

/**
 * Abort once no step is outstanding: return the instances `returnable` allows (start → verify for the
 * stopped ones, then register → wait-in-service), then `aborted`.
 */
export function beginAbort(s: RolloutState, at: number): void {
  s.abortRequested = false;
  s.rollbackRequested = false;
  s.pauseRequested = false;
  s.outstanding = [];
  s.failure = null;
  s.bakeUntil = null;
  s.bakeRemainingMs = null;
  const c = s.cursor;
  if (s.startedAt === null || c.run === "return") {
    finish(s, "aborted", at);
    return;
  }
  // Usually only the batch in progress; during a rollback, later rollback batches can hold
  // instances the forward run took out, so look at every instance.
  const out = listInstances(s).filter(takenOut);
  const returning = out.filter(returnable).map((i) => i.id);
  const staying = out.filter((i) => !returnable(i));
  if (staying.length > 0) s.notes.push(...staying.map(staysOutBecause));
  // Replace always runs the return: the group goes back to its launch version and size even when nobody is out.
  if (returning.length === 0 && !isReplace(s)) {
    finish(s, "aborted", at);
    return;
  }
  s.returning = returning;
  moveToBatch(s, "return", c.batch);
  s.currentBatch = c.batch;
  s.phase = "aborting";
  if (returning.length > 0) s.notes.push(`Abort: returning ${listIds(returning)} to rotation`);
  if (isReplace(s)) s.notes.push(`Abort: pointing ${s.plan.replace?.group} back at launch version ${s.plan.replace?.fromLaunch}, desired ${s.plan.replace?.desired}`);
}

/**
 * Replace: rollback replaces the instances the rollout launched, newest first, in batches of
 * plan.batchSize, from the previous launch version; the first rollback batch first puts back what the
 * forward run took out and did not terminate. With nothing launched yet, one empty batch still points
 * the group back.
 */
function planReplaceRollback(s: RolloutState): Array<{ fromVersion: string; ids: string[]; returnIds: string[] }> {
  const launched = listInstances(s).filter((i) => i.launched && i.server !== "terminated");
  const newest = launched.map((i) => i.id).reverse();
  const returnIds = listInstances(s)
    .filter((i) => !i.launched && takenOut(i))
    .map((i) => i.id);
  const fromVersion = commonFromVersion(s);
  const size = Math.max(1, s.plan.batchSize);
  const out: Array<{ fromVersion: string; ids: string[]; returnIds: string[] }> = [];
  for (let i = 0; i < newest.length; i += size) out.push({ fromVersion, ids: newest.slice(i, i + size), returnIds: [] });
  if (out.length === 0) out.push({ fromVersion, ids: [], returnIds: [] });
  out[0]!.returnIds = returnIds;
  return out;
}

/** The version most planned instances ran at the start (what the old launch version serves). */
function commonFromVersion(s: RolloutState): string {
  const counts = new Map<string, number>();
  for (const p of s.plan.instances) if (p.fromVersion !== null) counts.set(p.fromVersion, (counts.get(p.fromVersion) ?? 0) + 1);
  const best = [...counts].sort((a, b) => b[1] - a[1])[0];
  return best?.[0] ?? s.plan.replace?.fromLaunch ?? s.plan.targetVersion;
}

/** Touched instances without a known previous version (rollback cannot take them back). */
export function unknownFromVersions(s: RolloutState): string[] {
  // Replace goes back through the group's previous launch version, whatever the instances ran.
  if (isReplace(s)) return [];
  return s.plan.instances.filter((p) => p.fromVersion === null && getInstance(s, p.id)?.touched).map((p) => p.id);
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
    const group = groups.get(v);
    if (group) group.push(inst.id);
    else groups.set(v, [inst.id]);
  }
  const out: Array<{ fromVersion: string; ids: string[] }> = [];
  const size = Math.max(1, s.plan.batchSize);
  for (const [fromVersion, ids] of groups) {
    for (let i = 0; i < ids.length; i += size) out.push({ fromVersion, ids: ids.slice(i, i + size) });
  }
  return out;
}

export function beginRollback(s: RolloutState, at: number): void {
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
  const batches: Array<{ fromVersion: string; ids: string[]; returnIds?: string[] }> = isReplace(s) ? planReplaceRollback(s) : planRollback(s);
  s.direction = "rollback";
  s.rollbackBatches = batches.map((b, index) => ({
    index,
    fromVersion: b.fromVersion,
    instanceIds: b.ids,
    status: "pending",
    startedAt: null,
    endedAt: null,
    ...(b.returnIds ? { returnIds: b.returnIds, newIds: [] } : {}),
  }));
  batches.forEach((b, index) => {
    for (const id of b.ids) {
      const inst = getInstance(s, id);
      if (!inst) continue;
      inst.forward = { status: inst.status, step: inst.step, steps: inst.steps };
      inst.status = "pending";
      inst.step = null;
      inst.steps = freshSteps();
      inst.rollbackBatch = index;
    }
  });
  s.notes.push(`Rollback of ${batches.reduce((n, b) => n + b.ids.length, 0)} instances in ${batches.length} batches`);
  moveToBatch(s, "rollback", 0);
  if (batches.length === 0) {
    finish(s, "rolled-back", at);
    return;
  }
  s.phase = "rolling-back";
}
