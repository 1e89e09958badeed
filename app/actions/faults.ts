"use server";

import { z } from "zod";
import { requireOperator } from "@/server/auth/guard";
import { FAULT_KINDS, faultBodySchema } from "@/server/fleet/protocol";
import { clearFaults, faultInjection, injectFault } from "@/server/api/faults";
import type { FormResult } from "@/components/ui/action-state";
import type { FaultView } from "@/lib/views";

const faultForm = z.object({ kind: z.enum(FAULT_KINDS), instanceId: z.string().min(1, "Choose an instance") });

type Refused = Extract<FormResult<FaultView[]>, { ok: false }>;

/** The operator allowed to inject faults (their name goes into the audit trail), or why not. */
async function guard(): Promise<{ ok: true; actor: string } | Refused> {
  const auth = await requireOperator("fleet.faults");
  if (!auth.ok) return auth;
  if (!faultInjection()) return { ok: false, code: "NOT_LOCAL", message: "Fault injection exists only for the local fleet" };
  return { ok: true, actor: auth.operator.name };
}

/** Arms a fault on one instance of the local fleet (for demos and tests). */
export async function injectFaultAction(_prev: FormResult<FaultView[]> | null, form: FormData): Promise<FormResult<FaultView[]>> {
  const allowed = await guard();
  if (!allowed.ok) return allowed;
  const parsed = faultForm.safeParse({ kind: form.get("kind"), instanceId: form.get("instanceId") });
  if (!parsed.success) return { ok: false, code: "INVALID_INPUT", message: parsed.error.issues.map((i) => i.message).join("; ") };
  const body = faultBodySchema.parse(parsed.data);
  try {
    const faults = await injectFault(allowed.actor, body);
    return { ok: true, data: faults, message: `Armed ${body.kind} on ${body.instanceId}` };
  } catch (err) {
    return { ok: false, code: "FLEET_ERROR", message: err instanceof Error ? err.message : String(err) };
  }
}

/** Clears every fault of the local fleet. */
export async function clearFaultsAction(_prev: FormResult<FaultView[]> | null, _form: FormData): Promise<FormResult<FaultView[]>> {
  const allowed = await guard();
  if (!allowed.ok) return allowed;
  try {
    const faults = await clearFaults(allowed.actor);
    return { ok: true, data: faults, message: "Cleared all faults" };
  } catch (err) {
    return { ok: false, code: "FLEET_ERROR", message: err instanceof Error ? err.message : String(err) };
  }
}
