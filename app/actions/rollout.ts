"use server";

import { revalidatePath } from "next/cache";
import { NO_CAPACITY_WARNING, needsNoCapacityConfirmation, schemaInput, valuesFromFormData } from "@/components/rollout/form-values";
import type { FormResult } from "@/components/ui/action-state";
import { fail } from "@/lib/result";
import { fieldErrorRecord, operatorEventSchema, startRolloutSchema, toOperatorEvent } from "@/lib/validation";
import { requireOperator } from "@/server/auth/guard";
import { authorizeRolloutEvent } from "@/server/auth/rollout-access";
import { commandStore, startRollout, submitOperatorEvent } from "@/server/engine/commands";

const DONE: Record<string, string> = {
  approve: "Approved: the next batch starts now",
  pause: "Pause requested: it takes effect at the next step boundary",
  resume: "Resumed",
  abort: "Abort requested: the step in progress finishes, then healthy instances return to rotation",
  rollback: "Rollback requested: touched instances return to their previous version",
  "retry-step": "Retrying the failed step",
  "skip-instance": "Instance skipped: it stays out of rotation",
  "continue-now": "Bake time skipped: continuing now",
};

/** Start a rollout from the new-rollout form. */
export async function startRolloutAction(_prev: FormResult<{ id: string }> | null, form: FormData): Promise<FormResult<{ id: string }>> {
  const auth = await requireOperator("rollout.start");
  if (!auth.ok) return auth;
  const values = valuesFromFormData(form);
  const parsed = startRolloutSchema.safeParse(schemaInput(values));
  if (!parsed.success) return fail("INVALID_INPUT", "Nothing started: check the highlighted fields", fieldErrorRecord(parsed.error));
  if (needsNoCapacityConfirmation(values, parsed.data.minHealthy)) {
    return fail("INVALID_INPUT", `Nothing started: ${NO_CAPACITY_WARNING}; confirm it on the form`, { minHealthy: `${NO_CAPACITY_WARNING}: tick the confirmation to do it on purpose` });
  }
  const result = await startRollout(parsed.data, auth.operator.name);
  if (!result.ok) return { ...result, message: `Nothing started: ${result.message}` };
  revalidatePath("/rollouts");
  return { ...result, message: `Started rollout ${result.data.id}` };
}

/** Approve, pause, resume, abort, roll back, retry, skip, continue: one operator event. */
export async function operatorEventAction(_prev: FormResult | null, form: FormData): Promise<FormResult> {
  // A session first, before reading the form; the role for this event and the two-person rule below.
  const auth = await requireOperator("read");
  if (!auth.ok) return auth;
  const raw = Object.fromEntries([...form.entries()].filter(([k, v]) => !k.startsWith("$") && typeof v === "string"));
  const parsed = operatorEventSchema.safeParse(raw);
  if (!parsed.success) return fail("INVALID_INPUT", parsed.error.issues.map((i) => i.message).join("; "));
  const event = toOperatorEvent(parsed.data);
  if (event.type === "start") return fail("INVALID_INPUT", "Start a rollout with the new-rollout form");
  // Refusals of a known rollout are kept in its event log as rejected (actor, reason).
  const access = authorizeRolloutEvent(commandStore(), auth.operator, parsed.data.rolloutId, event);
  if (!access.ok) return access;
  const result = await submitOperatorEvent({ rolloutId: parsed.data.rolloutId, event }, auth.operator.name);
  if (!result.ok) return result;
  revalidatePath(`/rollouts/${parsed.data.rolloutId}`);
  return { ...result, message: DONE[parsed.data.type] ?? "Done" };
}
