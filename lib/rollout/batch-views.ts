/**
 * The rollout as the dashboard's tables show it, derived from the state alone: every batch with each
 * instance's eight steps, and where the rollout has each instance (the fleet table's column). Pure;
 * the server derives these once per change of the log and every viewer reads the same copy.
 */
import type { BatchView, InstanceProgress, InstanceRolloutStep, StepView } from "../views";
import { getInstance, type InstanceState, type Procedure, type RolloutState } from "./state";
import { STEPS } from "./types";

function stepViews(proc: Procedure): StepView[] {
  return STEPS.map((name) => {
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

function progress(inst: InstanceState, proc: Procedure): InstanceProgress {
  return { id: inst.id, zone: inst.zone, fromVersion: inst.fromVersion, steps: stepViews(proc), skipped: proc.status === "skipped", status: proc.status };
}

function instancesOf(s: RolloutState, ids: string[], proc: (i: InstanceState) => Procedure): InstanceProgress[] {
  return ids.flatMap((id) => {
    const inst = getInstance(s, id);
    return inst ? [progress(inst, proc(inst))] : [];
  });
}

/** The forward batches, then (once a rollback was planned) the rollback batches. */
export function batchViews(s: RolloutState): BatchView[] {
  const forward: BatchView[] = s.batches.map((b) => ({
    index: b.index,
    canary: b.canary,
    inServiceDuring: s.plan.batches[b.index]?.inServiceDuring ?? s.plan.minHealthy,
    direction: "forward",
    version: s.plan.targetVersion,
    status: b.status,
    startedAt: b.startedAt,
    finishedAt: b.endedAt,
    approvedBy: b.approvedBy,
    // Once rolled back, an instance's forward run is kept in `forward`.
    instances: instancesOf(s, b.instanceIds, (i) => i.forward ?? i),
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
    instances: instancesOf(s, b.instanceIds, (i) => i),
  }));
  return [...forward, ...back];
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
