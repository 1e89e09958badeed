"use server";

import { revalidatePath } from "next/cache";
import type { FormResult } from "@/components/ui/action-state";
import { NOTIFICATION_KINDS } from "@/lib/notify";
import { authDb } from "@/server/auth/db";
import { requireOperator } from "@/server/auth/guard";
import { setSlackUsers } from "@/server/notify/slack";
import { addTarget, changeTarget } from "@/server/notify/targets";
import { runtime } from "@/server/runtime";

export async function addTargetAction(_prev: FormResult<{ id: string; name: string; secret: string }> | null, form: FormData): Promise<FormResult<{ id: string; name: string; secret: string }>> {
  const auth = await requireOperator("settings.manage");
  if (!auth.ok) return auth;
  const kinds = NOTIFICATION_KINDS.filter((k) => form.get(`kind-${k}`) === "on");
  const r = addTarget(authDb(), runtime().secretsKey, auth.operator, {
    name: form.get("name") ?? "",
    format: form.get("format") ?? "",
    url: form.get("url") ?? "",
    secret: form.get("secret") ?? "",
    lb: form.get("lb") ?? "",
    kinds,
  });
  if (r.ok) revalidatePath("/settings/notifications");
  return r.ok ? { ...r, message: `Added ${r.data.name}` } : r;
}

export async function changeTargetAction(_prev: FormResult<{ name: string }> | null, form: FormData): Promise<FormResult<{ name: string }>> {
  const auth = await requireOperator("settings.manage");
  if (!auth.ok) return auth;
  const r = changeTarget(authDb(), auth.operator, form.get("id"), form.get("change"));
  if (r.ok) revalidatePath("/settings/notifications");
  return r;
}

export async function slackUsersAction(_prev: FormResult<{ users: number }> | null, form: FormData): Promise<FormResult<{ users: number }>> {
  const auth = await requireOperator("settings.manage");
  if (!auth.ok) return auth;
  const r = setSlackUsers(authDb(), auth.operator, form.get("users") ?? "");
  if (r.ok) revalidatePath("/settings/notifications");
  return r.ok ? { ...r, message: `Saved ${r.data.users} Slack user mapping${r.data.users === 1 ? "" : "s"}` } : r;
}
