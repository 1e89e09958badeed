/**
 * The rollout as the dashboard's tables show it, derived from the state alone: every batch with each
 * instance's steps (in place: eight; replace: the group's steps on the old instances, verify on the new
 * ones), and where the rollout has each instance (the fleet table's column). Pure; the server derives
 * these once per change of the log and every viewer reads the same copy.
 */
import type { BatchView, InstanceProgress, InstanceRolloutStep, ReplaceSummaryView, StepView, StoredEvent } from "../views";
import { forwardSteps, isReplace, runSteps } from "./cursor";
import { getInstance, type InstanceState, type Procedure, type RolloutState } from "./state";
import type { StepName } from "./types";

function stepViews(proc: Procedure, names: readonly StepName[]): StepView[] {
  return names.map((name) => {
    const r = proc.steps[name];
    const from = r.startedAt ?? r.issuedAt;
    const v: StepView = {
      name,
      status: r.status === "done" ? "succeeded" : r.status,
      startedAt: from,
      finishedAt: r.endedAt,
      durationMs: from !== null && r.endedAt !== null ? r.endedAt - from : null,
      attempts: r.attempts,
    };
    if (r.outputTail !== undefined) v.outputTail = r.outputTail;
    if (r.message !== undefined) v.message = r.message;
    if (r.exitCode !== undefined) v.exitCode = r.exitCode;
    return v;
  });
}

type Role = NonNullable<InstanceProgress["role"]>;

function progress(inst: InstanceState, proc: Procedure, names: readonly StepName[], role?: Role): InstanceProgress {
  const p: InstanceProgress = { id: inst.id, zone: inst.zone, fromVersion: inst.fromVersion, steps: stepViews(proc, names), skipped: proc.status === "skipped", status: proc.status };
  if (role) {
    p.role = role;
    if (inst.server === "terminated") p.terminated = true;
    if (inst.launched) p.launchedFrom = inst.launched.launchVersion;
  }
  return p;
}

function instancesOf(s: RolloutState, ids: readonly string[], proc: (i: InstanceState) => Procedure, names: readonly StepName[], role?: Role): InstanceProgress[] {
  return ids.flatMap((id) => {
    const inst = getInstance(s, id);
    return inst ? [progress(inst, proc(inst), names, role)] : [];
  });
}

const PUT_BACK: ReadonlySet<StepName> = new Set(["register", "wait-in-service"]);

/**
 * Replace: a batch's old instances with the group's steps (verify is the new ones'), then the ones the
 * run puts back (register, wait in service), then the new instances with verify.
 */
function replaceInstances(s: RolloutState, steps: readonly StepName[], ids: { old: readonly string[]; returned?: readonly string[]; fresh?: readonly string[] }, proc: (i: InstanceState) => Procedure): InstanceProgress[] {
  const oldSteps = steps.filter((n) => n !== "verify" && !PUT_BACK.has(n));
  return [
    ...instancesOf(s, ids.old, proc, oldSteps, "old"),
    ...instancesOf(s, ids.returned ?? [], proc, steps.filter((n) => PUT_BACK.has(n)), "returned"),
    ...instancesOf(s, ids.fresh ?? [], proc, ["verify"], "new"),
  ];
}

/** The forward batches, then (once a rollback was planned) the rollback batches. */
export function batchViews(s: RolloutState): BatchView[] {
  const replace = isReplace(s);
  const steps = [...forwardSteps(s)];
  const backSteps = [...runSteps(s, "rollback")];
  // Once rolled back, an instance's forward run is kept in `forward`.
  const forwardProc = (i: InstanceState) => i.forward ?? i;
  const r = replace ? s.plan.replace : undefined;
  const analysing = s.outstanding.find((e) => e.type === "analyze");
  const forward: BatchView[] = s.batches.map((b) => ({
    index: b.index,
    canary: b.canary,
    // Replace: the group's arithmetic (desired + surge − the batch), not the in-place planner's.
    inServiceDuring: r ? r.desired + Math.min(r.surge, b.instanceIds.length) - b.instanceIds.length : (s.plan.batches[b.index]?.inServiceDuring ?? s.plan.minHealthy),
    direction: "forward",
    version: s.plan.targetVersion,
    status: b.status,
    startedAt: b.startedAt,
    finishedAt: b.endedAt,
    approvedBy: b.approvedBy,
    steps,
    instances: replace ? replaceInstances(s, steps, { old: b.instanceIds, fresh: b.newIds }, forwardProc) : instancesOf(s, b.instanceIds, forwardProc, steps),
    ...(b.analysis ? { analysis: b.analysis } : {}),
    ...(analysing?.type === "analyze" && analysing.batch === b.index ? { analysing: { windowMs: analysing.windowMs, fresh: analysing.fresh, old: analysing.old, alarms: analysing.alarms } } : {}),
  }));
  const back: BatchView[] = s.rollbackBatches.map((b) => ({
    index: b.index,
    canary: false,
    inServiceDuring: s.plan.minHealthy,
    direction: "rollback",
    version: b.fromVersion,
    status: b.status,
    startedAt: b.startedAt,
    finishedAt: b.endedAt,
    approvedBy: null,
    steps: backSteps,
    instances: replace ? replaceInstances(s, backSteps, { old: b.instanceIds, returned: b.returnIds, fresh: b.newIds }, (i) => i) : instancesOf(s, b.instanceIds, (i) => i, backSteps),
  }));
  return [...forward, ...back];
}

/**
 * Replace: the group as the rollout page's summary shows it. Its desired capacity and launch version
 * now are what the rollout last set (its group-changed events); the plan gives the rest.
 */
export function replaceSummary(s: RolloutState, events: readonly StoredEvent[]): ReplaceSummaryView | undefined {
  const r = isReplace(s) ? s.plan.replace : undefined;
  if (!r) return undefined;
  let desired = r.desired;
  let launchNow = r.fromLaunch;
  for (const e of events) {
    if (e.type !== "group-changed" || e.outcome === "rejected") continue;
    const p = e.payload as { desired?: { to?: unknown }; launchVersion?: { to?: unknown }; terminated?: unknown; decrementDesired?: unknown };
    if (typeof p.desired?.to === "number") desired = p.desired.to;
    if (typeof p.launchVersion?.to === "string") launchNow = p.launchVersion.to;
    if (typeof p.terminated === "string" && p.decrementDesired === true) desired--;
  }
  const view: ReplaceSummaryView = { group: r.group, min: r.min, max: r.max, desiredAtStart: r.desired, desired, surge: r.surge, fromLaunch: r.fromLaunch, toLaunch: r.toLaunch, launchNow, notes: r.notes ?? [] };
  if (r.fromLabel) view.fromLabel = r.fromLabel;
  if (r.toLabel) view.toLabel = r.toLabel;
  return view;
}

/**
 * Where the rollout has each instance: the step in progress (or failed), the next step when it is
 * between steps, or done. A rollback batch, once planned, speaks for the instances it covers.
 */
export function instanceSteps(batches: readonly BatchView[]): Record<string, InstanceRolloutStep> {
  const out: Record<string, InstanceRolloutStep> = {};
  for (const b of batches) {
    for (const inst of b.instances) {
      const current = inst.steps.find((s) => s.status === "running" || s.status === "failed" || s.status === "timed-out");
      const next = inst.steps.find((s) => s.status === "pending");
      const untouched = inst.steps.every((s) => s.status === "pending");
      const at = { batch: b.index, direction: b.direction };
      out[inst.id] = inst.skipped
        ? { ...at, step: next?.name ?? "done", status: "skipped" }
        : current
          ? { ...at, step: current.name, status: current.status }
          : untouched
            ? { ...at, step: "queued", status: "pending" }
            : next
              ? { ...at, step: next.name, status: "pending" }
              : { ...at, step: "done", status: "succeeded" };
    }
  }
  return out;
}
