"use server";

import { NO_CAPACITY_WARNING, needsNoCapacityConfirmation, schemaInput, valuesFromFormData } from "@/components/rollout/form-values";
import type { FormResult } from "@/components/ui/action-state";
import { fail } from "@/lib/result";
import { ACTIONS } from "@/lib/rollout/actions";
import type { OperatorEventType } from "@/lib/rollout/types";
import { requireOperator } from "@/server/auth/guard";
import { runCommand } from "@/server/commands";
import { runtime } from "@/server/runtime";

/**
 * The dashboard's two mutations. Each authenticates the session, then hands the raw form to the
 * command pipeline, which parses, authorizes and appends once. The page refreshes through the live
 * stream, which every appended event reaches.
 */

/** Start a rollout from the new-rollout form. */
export async function startRolloutAction(_prev: FormResult<{ id: string }> | null, form: FormData): Promise<FormResult<{ id: string }>> {
  const auth = await requireOperator("read");
  if (!auth.ok) return auth;
  const values = valuesFromFormData(form);
  // The form's second yes for min healthy 0 (the API's is the count 0 spelled out).
  if (needsNoCapacityConfirmation(values)) {
    return fail("INVALID_INPUT", `Nothing started: ${NO_CAPACITY_WARNING}; confirm it on the form`, { minHealthy: `${NO_CAPACITY_WARNING}: tick the confirmation to do it on purpose` });
  }
  const r = await runCommand(runtime(), auth.operator, { type: "start-rollout", input: schemaInput(values) });
  if (!r.ok) return { ...r, message: r.message.startsWith("Nothing started") ? r.message : `Nothing started: ${r.message}` };
  return { ok: true, data: r.data, message: `Started rollout ${r.data.id}` };
}

/** Approve, pause, resume, abort, roll back, retry, skip, continue: one operator event. */
export async function operatorEventAction(_prev: FormResult | null, form: FormData): Promise<FormResult> {
  const auth = await requireOperator("read");
  if (!auth.ok) return auth;
  const raw = Object.fromEntries([...form.entries()].filter(([k, v]) => !k.startsWith("$") && typeof v === "string"));
  const { rolloutId, ...event } = raw;
  const r = await runCommand(runtime(), auth.operator, { type: "operator-event", rolloutId: String(rolloutId ?? ""), event });
  if (!r.ok) return r;
  const done = ACTIONS[event.type as OperatorEventType]?.done;
  return { ...r, message: done ?? "Done" };
}
