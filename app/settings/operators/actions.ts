"use server";

import { revalidatePath } from "next/cache";
import type { FormResult } from "@/components/ui/action-state";
import { addStoredOperator, disableStoredOperator, liftLock, setTwoPersonLbs } from "@/server/auth/admin";
import { authDb } from "@/server/auth/db";
import { requireOperator } from "@/server/auth/guard";

export async function addOperatorAction(_prev: FormResult<{ name: string }> | null, form: FormData): Promise<FormResult<{ name: string }>> {
  const auth = await requireOperator("operators.manage");
  if (!auth.ok) return auth;
  const r = await addStoredOperator(authDb(), auth.operator, { name: form.get("name"), role: form.get("role"), password: form.get("password") });
  if (r.ok) revalidatePath("/settings/operators");
  return r.ok ? { ...r, message: `Saved operator ${r.data.name}` } : r;
}

export async function disableOperatorAction(_prev: FormResult<{ name: string }> | null, form: FormData): Promise<FormResult<{ name: string }>> {
  const auth = await requireOperator("operators.manage");
  if (!auth.ok) return auth;
  const r = disableStoredOperator(authDb(), auth.operator, form.get("name"));
  if (r.ok) revalidatePath("/settings/operators");
  return r.ok ? { ...r, message: `Disabled ${r.data.name}` } : r;
}

export async function twoPersonAction(_prev: FormResult<{ lbs: string[] }> | null, form: FormData): Promise<FormResult<{ lbs: string[] }>> {
  const auth = await requireOperator("settings.manage");
  if (!auth.ok) return auth;
  const r = setTwoPersonLbs(authDb(), auth.operator, form.get("lbs") ?? "");
  if (r.ok) revalidatePath("/settings/operators");
  return r.ok ? { ...r, message: r.data.lbs.length ? `Two-person rule on for ${r.data.lbs.join(", ")}` : "Two-person rule off (except ROTOR_TWO_PERSON_LBS)" } : r;
}

export async function liftLockAction(_prev: FormResult<{ name: string; wasLocked: boolean }> | null, form: FormData): Promise<FormResult<{ name: string; wasLocked: boolean }>> {
  const auth = await requireOperator("operators.manage");
  if (!auth.ok) return auth;
  const r = liftLock(authDb(), auth.operator, form.get("name"));
  if (r.ok) revalidatePath("/settings/operators");
  return r.ok ? { ...r, message: r.data.wasLocked ? `Lifted the sign-in lock on ${r.data.name}` : `${r.data.name} was not locked` } : r;
}
