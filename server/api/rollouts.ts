/**
 * Rollout reads for the API and the pages, over the engine's queries. The detail is the engine's
 * RolloutDetail without the raw state machine state (large, and not the UI's business), plus the
 * few settings the page shows (approval mode, drain timeout).
 */
import type { ActiveRolloutRef, FleetRow, RolloutDetailView, RolloutSummary } from "@/components/view-types";
import type { RolloutDetail } from "@/lib/views";
import { activeRolloutFor, getRolloutDetail, listRollouts } from "@/server/engine/queries";
import { NotFound } from "@/server/api/http";

export function toDetailView(d: RolloutDetail): RolloutDetailView {
  const { state, ...rest } = d;
  return { ...rest, approval: state.mode, drainTimeoutMs: state.drainTimeoutMs };
}

export async function rolloutList(): Promise<RolloutSummary[]> {
  return listRollouts();
}

export async function rolloutDetail(id: string): Promise<RolloutDetailView> {
  const d = getRolloutDetail(id);
  if (!d) throw new NotFound(`No rollout ${id}`);
  return toDetailView(d);
}

export async function activeRolloutRef(lb: string): Promise<ActiveRolloutRef | null> {
  const s = activeRolloutFor(lb);
  const d = s ? getRolloutDetail(s.id) : null;
  if (!s || !d) return null;
  return { id: s.id, phase: d.view.phase, message: d.view.message, targetVersion: s.targetVersion, progress: d.view.progress };
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
