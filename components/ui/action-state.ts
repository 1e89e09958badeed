/**
 * What a server action hands back to a form: lib's ActionResult (with per-field messages in
 * `fieldErrors`), plus an optional line for the status on success.
 */
import type { ActionResult } from "@/lib/result";

export type FormResult<T = unknown> = ActionResult<T> & { message?: string };

export type FormAction<T = unknown> = (prev: FormResult<T> | null, form: FormData) => Promise<FormResult<T>>;

export function statusOf(r: FormResult | null, success: string): { ok: boolean; message: string } | null {
  if (!r) return null;
  return r.ok ? { ok: true, message: r.message ?? success } : { ok: false, message: r.message ?? r.code };
}
