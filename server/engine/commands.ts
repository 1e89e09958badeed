/**
 * What the dashboard's server actions call. Each validates its input again (the schemas in lib/),
 * appends to the store, and returns an ActionResult; the engine does the work. Nothing here runs a
 * rollout step: server actions are request-scoped, the engine is not.
 */
import { fail, ok, type ActionResult } from "@/lib/result";
import type { OperatorEvent } from "@/lib/rollout/types";
import { fieldErrorRecord, operatorEventSchema, startRolloutSchema, toOperatorEvent, toRolloutRequest, type StartRolloutInput } from "@/lib/validation";
import { getFleetMonitor } from "@/server/monitor";
import { getStore, type RotorStore } from "@/server/store";
import { currentEngine } from "./index";
import { launchRollout, operate } from "./launch";

export type { StartRolloutInput } from "@/lib/validation";

/** The engine's store when it runs in this process (it may have been given a data dir), else ROTOR_DATA_DIR's. */
export function commandStore(): RotorStore {
  return currentEngine()?.store ?? getStore();
}

/**
 * Plans against the fleet as the monitor sees it now and starts the rollout, or refuses: invalid
 * input (INVALID_INPUT with fieldErrors), an impossible plan (the planner's code, message and field),
 * or another active rollout on the load balancer (ROLLOUT_ACTIVE, naming it and its version).
 */
export async function startRollout(input: StartRolloutInput, actor: string): Promise<ActionResult<{ id: string }>> {
  const parsed = startRolloutSchema.safeParse(input);
  if (!parsed.success) return fail("INVALID_INPUT", "Check the highlighted fields", fieldErrorRecord(parsed.error));
  const req = toRolloutRequest(parsed.data);
  try {
    const r = await launchRollout(
      { store: commandStore(), monitor: getFleetMonitor() },
      { lb: req.lb, plan: req.options, mode: req.approval, ...(req.drainTimeoutMs !== undefined ? { drainTimeoutMs: req.drainTimeoutMs } : {}) },
      actor,
      parsed.data,
    );
    return r.ok ? ok(r.data) : fail(r.code, r.message, r.fieldErrors as Record<string, string> | undefined);
  } catch (err) {
    return fail("INTERNAL", `Could not start the rollout: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Appends an operator event if the state machine accepts it now; otherwise records it as rejected
 * (an audit fact) and returns the machine's reason as the message.
 */
export async function submitOperatorEvent(input: { rolloutId: string; event: OperatorEvent }, actor: string): Promise<ActionResult<{ seq: number }>> {
  const parsed = operatorEventSchema.safeParse({ ...input.event, rolloutId: input.rolloutId });
  if (!parsed.success) return fail("INVALID_INPUT", "This action is not valid", fieldErrorRecord(parsed.error));
  try {
    const r = operate(commandStore(), parsed.data.rolloutId, toOperatorEvent(parsed.data), actor);
    return r.ok ? ok(r.data) : fail(r.code, r.message);
  } catch (err) {
    return fail("INTERNAL", `Could not record the action: ${err instanceof Error ? err.message : String(err)}`);
  }
}
