"use server";

import { revalidatePath } from "next/cache";
import { schemaInput, valuesFromFormData } from "@/components/rollout/form-values";
import type { FormResult } from "@/components/ui/action-state";
import { fail } from "@/lib/result";
import { fieldErrorRecord, operatorEventSchema, startRolloutSchema, toOperatorEvent } from "@/lib/validation";
import { canOperate, currentOperator } from "@/server/auth/operator";
import { startRollout, submitOperatorEvent } from "@/server/engine/commands";

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
  const operator = await currentOperator();
  if (!canOperate(operator)) return fail("FORBIDDEN", `${operator.name} (${operator.role}) may not start rollouts`);
  const parsed = startRolloutSchema.safeParse(schemaInput(valuesFromFormData(form)));
  if (!parsed.success) return fail("INVALID_INPUT", "Nothing started: check the highlighted fields", fieldErrorRecord(parsed.error));
  const result = await startRollout(parsed.data, operator.name);
  if (!result.ok) return { ...result, message: `Nothing started: ${result.message}` };
  revalidatePath("/rollouts");
  return { ...result, message: `Started rollout ${result.data.id}` };
}

/** Approve, pause, resume, abort, roll back, retry, skip, continue: one operator event. */
export async function operatorEventAction(_prev: FormResult | null, form: FormData): Promise<FormResult> {
  const operator = await currentOperator();
  if (!canOperate(operator)) return fail("FORBIDDEN", `${operator.name} (${operator.role}) may not change rollouts`);
  const raw = Object.fromEntries([...form.entries()].filter(([k, v]) => !k.startsWith("$") && typeof v === "string"));
  const parsed = operatorEventSchema.safeParse(raw);
  if (!parsed.success) return fail("INVALID_INPUT", parsed.error.issues.map((i) => i.message).join("; "));
  const result = await submitOperatorEvent({ rolloutId: parsed.data.rolloutId, event: toOperatorEvent(parsed.data) }, operator.name);
  if (!result.ok) return result;
  revalidatePath(`/rollouts/${parsed.data.rolloutId}`);
  return { ...result, message: DONE[parsed.data.type] ?? "Done" };
}
