/**
 * Rollout reads for the API and the pages, over the engine's queries. The detail is the engine's
 * RolloutDetail without the raw state machine state (large, and not the UI's business), plus the
 * few settings the page shows (approval mode, drain timeout).
 */
import type { ActiveRolloutRef, FleetRow, RolloutDetailView, RolloutSummary } from "@/components/view-types";
import type { RolloutDetail } from "@/lib/views";
import { activeRolloutFor, getRolloutDetail, listRollouts } from "@/server/engine/queries";
import { NotFound } from "@/server/api/http";
import { authDb } from "@/server/auth/db";
import { twoPersonLbs, twoPersonWaiting } from "@/server/auth/two-person";

/** Under the two-person rule, the waiting line names who must act ("a second operator"). */
function withTwoPerson<V extends { phase: string; message: string }>(d: RolloutDetail, view: V, lbs: Set<string>): V {
  const gate = d.state.outstanding.find((e) => e.type === "awaitApproval");
  const waitingBatch = gate && "batch" in gate ? gate.batch : null;
  const line = twoPersonWaiting({ lb: d.state.lb, phase: view.phase, waitingBatch, batches: d.state.batches.length, startedBy: d.state.createdBy }, lbs);
  return line ? { ...view, message: line } : view;
}

export function toDetailView(d: RolloutDetail, lbs: Set<string> = new Set()): RolloutDetailView {
  const { state, ...rest } = d;
  return { ...rest, view: withTwoPerson(d, rest.view, lbs), approval: state.mode, drainTimeoutMs: state.drainTimeoutMs };
}

export async function rolloutList(): Promise<RolloutSummary[]> {
  return listRollouts();
}

export async function rolloutDetail(id: string): Promise<RolloutDetailView> {
  const d = getRolloutDetail(id);
  if (!d) throw new NotFound(`No rollout ${id}`);
  return toDetailView(d, twoPersonLbs(authDb()));
}

export async function activeRolloutRef(lb: string): Promise<ActiveRolloutRef | null> {
  const s = activeRolloutFor(lb);
  const d = s ? getRolloutDetail(s.id) : null;
  if (!s || !d) return null;
  const view = withTwoPerson(d, d.view, twoPersonLbs(authDb()));
  return { id: s.id, phase: view.phase, message: view.message, targetVersion: s.targetVersion, progress: view.progress };
}

/**
 * Where the rollout has each instance: the step in progress (or failed), the next step when it is
 * between steps, or done. A rollback batch, once planned, speaks for the instances it covers.
 */
export async function instanceSteps(rolloutId: string): Promise<Map<string, NonNullable<FleetRow["rollout"]>>> {
  const out = new Map<string, NonNullable<FleetRow["rollout"]>>();
  const d = getRolloutDetail(rolloutId);
  if (!d) return out;
  for (const b of d.batches) {
    for (const inst of b.instances) {
      const current = inst.steps.find((s) => s.status === "running" || s.status === "failed" || s.status === "timed-out");
      const next = inst.steps.find((s) => s.status === "pending");
      const untouched = inst.steps.every((s) => s.status === "pending");
      const where: NonNullable<FleetRow["rollout"]> = inst.skipped
        ? { batch: b.index, step: next?.name ?? "done", status: "skipped", direction: b.direction }
        : current
          ? { batch: b.index, step: current.name, status: current.status, direction: b.direction }
          : untouched
            ? { batch: b.index, step: "queued", status: "pending", direction: b.direction }
            : next
              ? { batch: b.index, step: next.name, status: "pending", direction: b.direction }
              : { batch: b.index, step: "done", status: "succeeded", direction: b.direction };
      out.set(inst.id, where);
    }
  }
  return out;
}
