/**
 * The replace strategy's effects on the Auto Scaling group, performed through the provider's
 * `groups` capability. Both are safe to perform again after a crash:
 * - scaleGroup asks for an absolute launch version and desired capacity (asking again launches
 *   nothing twice), then waits: every `retiring` instance gone from the group, at least `want`
 *   instances the rollout does not know InService in the group, launched from the launch version and
 *   in service at every load balancer the group feeds, and the group steady at its desired capacity.
 *   A resumed wait keeps its original deadline. The result names the new instances.
 * - terminate terminates each instance in the group, decrementing the desired capacity for the first
 *   `decrement` of them; the port's terminate succeeds for an instance already terminating or gone
 *   (and decrements nothing), so performing it again decrements nothing twice.
 * The group's scaling activities seen meanwhile go on the rollout's timeline (ctx.groupSeen).
 */
import type { Effect, InstanceStepResult } from "@/lib/rollout/types";
import type { ScalingGroupState, ScalingGroups } from "@/server/providers/types";
import { retrying, type EffectContext, type EffectOutcome } from "./effects";
import { abortableSleep } from "./retry";

export type GroupEffect = Extract<Effect, { type: "scaleGroup" | "terminate" }>;

/**
 * How often a wait reads the group again: on AWS twice a second (each read is a DescribeAutoScalingGroups
 * and a DescribeScalingActivities); the local group as often as the monitor reads a local balancer while a
 * rollout waits, since every poll interval is lost time between the group being ready and the next step.
 */
function groupPollMs(ctx: EffectContext): number {
  return ctx.provider.name === "aws" ? 500 : 100;
}
/** A resumed wait gets at least this long, so it decides on a fresh look at the group. */
const MIN_RESUMED_WAIT_MS = 5_000;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function performGroupEffect(effect: GroupEffect, ctx: EffectContext): Promise<EffectOutcome> {
  const groups = ctx.provider.groups;
  if (!groups) {
    const message = `the ${ctx.provider.name} provider cannot replace instances through an Auto Scaling group`;
    return { type: "step-failed", results: effect.ids.map((id) => ({ id, ok: false, message, changed: false })), message };
  }
  // The group's activities go on the timeline through the runner, which knows what it noted before.
  const noteActivities = (g: ScalingGroupState) => ctx.groupSeen?.(g);
  return effect.type === "terminate" ? terminate(effect, groups, ctx, noteActivities) : scale(effect, groups, ctx, noteActivities);
}

async function terminate(
  effect: Extract<GroupEffect, { type: "terminate" }>,
  groups: ScalingGroups,
  ctx: EffectContext,
  noteActivities: (g: ScalingGroupState) => void,
): Promise<EffectOutcome> {
  const results: InstanceStepResult[] = [];
  for (const [n, id] of effect.ids.entries()) {
    const decrement = n < effect.decrement;
    const what = `terminate ${id} in ${effect.group}${decrement ? " (decrementing the desired capacity)" : ""}`;
    try {
      await retrying(what, ctx, () => groups.terminate(effect.group, id, decrement));
      ctx.note("group-changed", { group: effect.group, terminated: id, decrementDesired: decrement });
      results.push({ id, ok: true, message: decrement ? `terminated in ${effect.group}, desired capacity decremented` : `terminated in ${effect.group}; the group launches a replacement` });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      results.push({ id, ok: false, message: `${what} failed: ${errorMessage(err)}` });
    }
  }
  await groups.describe(effect.group).then(noteActivities, () => undefined);
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return { type: "step-succeeded", results };
  return { type: "step-failed", results, message: failed.map((r) => r.message).join("; ") };
}

interface Reading {
  group: ScalingGroupState;
  /** New instances launched from the launch version and InService in the group, each with where it is not yet in service. */
  fresh: { id: string; zone?: string; notInServiceAt: string[] }[];
  retiringLeft: string[];
  pending: string[];
  inService: number;
}

async function read(effect: Extract<GroupEffect, { type: "scaleGroup" }>, groups: ScalingGroups, ctx: EffectContext): Promise<Reading> {
  const group = await retrying(`describe ${effect.group}`, ctx, () => groups.describe(effect.group));
  const known = new Set(effect.known);
  const members = new Set(group.instances.map((i) => i.id));
  const fresh = group.instances.filter((i) => i.lifecycleState === "InService" && i.launchVersion === effect.launchVersion && !known.has(i.id));
  const views = new Map<string, Map<string, string>>();
  if (fresh.length > 0) {
    await Promise.all(
      group.loadBalancers.map(async (lb) => {
        const snap = await ctx.monitor.freshSnapshot(lb, groupPollMs(ctx));
        views.set(lb, new Map(snap.instances.map((i) => [i.id, i.state])));
      }),
    );
  }
  return {
    group,
    fresh: fresh.map((i) => ({ id: i.id, zone: i.zone, notInServiceAt: group.loadBalancers.filter((lb) => views.get(lb)?.get(i.id) !== "in-service") })),
    retiringLeft: effect.retiring.filter((id) => members.has(id)),
    pending: group.instances.filter((i) => i.lifecycleState.startsWith("Pending")).map((i) => `${i.id} ${i.lifecycleState}`),
    inService: group.instances.filter((i) => i.lifecycleState === "InService").length,
  };
}

function ready(effect: Extract<GroupEffect, { type: "scaleGroup" }>, r: Reading): boolean {
  const serving = r.fresh.filter((f) => f.notInServiceAt.length === 0).length;
  return r.retiringLeft.length === 0 && serving >= effect.want && r.pending.length === 0 && r.inService === r.group.desired;
}

function whatIsMissing(effect: Extract<GroupEffect, { type: "scaleGroup" }>, r: Reading): string {
  const parts: string[] = [];
  const serving = r.fresh.filter((f) => f.notInServiceAt.length === 0);
  if (serving.length < effect.want) parts.push(`${serving.length} of ${effect.want} new instances from launch version ${effect.launchVersion} in service`);
  for (const f of r.fresh) if (f.notInServiceAt.length > 0) parts.push(`${f.id} not yet in service at ${f.notInServiceAt.join(", ")}`);
  if (r.retiringLeft.length > 0) parts.push(`${r.retiringLeft.join(", ")} still in the group`);
  if (r.pending.length > 0) parts.push(`pending: ${r.pending.join(", ")}`);
  if (r.inService !== r.group.desired) parts.push(`${r.inService} InService, desired ${r.group.desired}`);
  return parts.join("; ");
}

async function scale(
  effect: Extract<GroupEffect, { type: "scaleGroup" }>,
  groups: ScalingGroups,
  ctx: EffectContext,
  noteActivities: (g: ScalingGroupState) => void,
): Promise<EffectOutcome> {
  const fail = (message: string): EffectOutcome => ({ type: "step-failed", results: effect.ids.map((id) => ({ id, ok: false, message })), message });
  let g: ScalingGroupState;
  try {
    g = await retrying(`describe ${effect.group}`, ctx, () => groups.describe(effect.group));
    // The launch version first: whatever the group launches from now on (its own scale-outs and health replacements too) is already on it.
    if (g.launchVersion !== effect.launchVersion) {
      await retrying(`point ${effect.group} at launch version ${effect.launchVersion}`, ctx, () => groups.setLaunchVersion(effect.group, effect.launchVersion));
      ctx.note("group-changed", { group: effect.group, launchVersion: { from: g.launchVersion, to: effect.launchVersion } });
    }
    if (g.desired !== effect.desired) {
      await retrying(`set ${effect.group}'s desired capacity to ${effect.desired}`, ctx, () => groups.setDesiredCapacity(effect.group, effect.desired));
      ctx.note("group-changed", { group: effect.group, desired: { from: g.desired, to: effect.desired } });
    }
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    return fail(`${effect.step} on ${effect.group} failed: ${errorMessage(err)}`);
  }
  const deadline = ctx.startedAt + effect.timeoutMs;
  const until = ctx.resumed ? Math.max(deadline, Date.now() + MIN_RESUMED_WAIT_MS) : deadline;
  let last: Reading | null = null;
  let lastError: unknown = null;
  for (;;) {
    try {
      last = await read(effect, groups, ctx);
      lastError = null;
      noteActivities(last.group);
      if (ready(effect, last)) break;
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      lastError = err;
    }
    if (Date.now() >= until) {
      const why = last ? whatIsMissing(effect, last) : "the group was never read";
      const error = lastError ? ` (last read failed: ${errorMessage(lastError)})` : "";
      return { type: "step-timed-out", ids: effect.ids, message: `${effect.group} did not reach desired ${effect.desired} on launch version ${effect.launchVersion} within ${effect.timeoutMs} ms: ${why}${error}` };
    }
    await abortableSleep(groupPollMs(ctx), ctx.signal);
  }
  const others = (lbs: string[]) => lbs.filter((lb) => lb !== ctx.lb);
  const results: InstanceStepResult[] = last.fresh.map((f) => ({
    id: f.id,
    ok: true,
    durationMs: Date.now() - ctx.startedAt,
    message: `launched from ${effect.launchVersion}, in service at ${last.group.loadBalancers.join(", ")}`,
    ...(f.zone ? { zone: f.zone } : {}),
    ...(others(last.group.loadBalancers).length > 0 ? { alsoIn: others(last.group.loadBalancers) } : {}),
  }));
  for (const id of effect.ids) results.push({ id, ok: true, message: effect.step === "launch" ? `${effect.group} at desired ${effect.desired}` : `replaced; ${effect.group} back at desired ${effect.desired}` });
  // Instances of the rollout the group no longer has (it shrank on its own): the rollout stops counting them.
  const members = new Set(last.group.instances.filter((i) => i.lifecycleState !== "Terminating" && !i.lifecycleState.startsWith("Terminated")).map((i) => i.id));
  const mentioned = new Set(results.map((r) => r.id));
  for (const id of effect.known) if (!members.has(id) && !mentioned.has(id)) results.push({ id, ok: true, gone: true, message: `no longer in ${effect.group}` });
  return { type: "step-succeeded", results, details: { group: effect.group, desired: effect.desired, launchVersion: effect.launchVersion, newInstances: last.fresh.map((f) => f.id) } };
}
