"use server";

import { revalidatePath } from "next/cache";
import type { ActionResult } from "@/lib/result";
import type { FormResult } from "@/components/ui/action-state";
import { createToken, revokeToken } from "@/server/auth/admin";
import { authDb } from "@/server/auth/db";
import { requireOperator } from "@/server/auth/guard";

function toForm<T>(r: ActionResult<T>, message?: string): FormResult<T> {
  if (r.ok) return { ok: true, data: r.data, ...(message ? { message } : {}) };
  return r;
}

export async function createTokenAction(_prev: FormResult<{ token: string; name: string; role: string }> | null, form: FormData) {
  const auth = await requireOperator("tokens.manage");
  if (!auth.ok) return auth;
  const days = form.get("expiresInDays");
  const r = createToken(authDb(), auth.operator, { name: form.get("name"), role: form.get("role"), ...(days ? { expiresInDays: days } : {}) });
  if (r.ok) revalidatePath("/settings/tokens");
  return toForm(r, r.ok ? `Created token ${r.data.name}. Copy it now: it is not shown again.` : undefined);
}

export async function revokeTokenAction(_prev: FormResult<{ name: string }> | null, form: FormData) {
  const auth = await requireOperator("tokens.manage");
  if (!auth.ok) return auth;
  const r = revokeToken(authDb(), auth.operator, form.get("id"));
  if (r.ok) revalidatePath("/settings/tokens");
  return toForm(r, r.ok ? `Revoked ${r.data.name}` : undefined);
}
