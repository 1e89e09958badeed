"use server";

import type { FormResult } from "@/components/ui/action-state";
import { requireOperator } from "@/server/auth/guard";
import { runCommand } from "@/server/commands";
import { runtime } from "@/server/runtime";

/**
 * Freezing and lifting from the fleet page: the session is authenticated here, the command pipeline
 * parses the form, checks the admin role and records the change in the audit trail.
 */
export async function freezeAction(_prev: FormResult | null, form: FormData): Promise<FormResult> {
  const auth = await requireOperator("read");
  if (!auth.ok) return auth;
  const field = (k: string) => (typeof form.get(k) === "string" ? String(form.get(k)) : "");
  if (form.get("intent") === "lift") {
    const r = await runCommand(runtime(), auth.operator, { type: "lift-freeze", input: { lb: field("lb") } });
    return r.ok ? { ok: true, data: null, message: `Lifted the freeze on ${field("lb")}: rollouts may start again` } : r;
  }
  const r = await runCommand(runtime(), auth.operator, { type: "freeze-lb", input: { lb: field("lb"), reason: field("reason"), until: field("until") } });
  return r.ok ? { ok: true, data: null, message: `Froze ${field("lb")}` } : r;
}
