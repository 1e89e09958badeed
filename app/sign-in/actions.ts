"use server";

/**
 * Sign-in and sign-out for the browser. These two are the only server actions that do not call
 * requireOperator first: signing in is how one gets a session, and signing out needs none. Next's
 * server-action Origin check refuses them from other sites (login CSRF).
 */
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import type { FormResult } from "@/components/ui/action-state";
import { authDb } from "@/server/auth/db";
import { sessionFor } from "@/server/auth/guard";
import { clientAddress, safeReturnPath, sessionCookieOptions, wantsSecureCookie } from "@/server/auth/http";
import { SESSION_COOKIE } from "@/server/auth/sessions";
import { signIn, signOut } from "@/server/auth/sign-in";

export async function signInAction(_prev: FormResult<null> | null, form: FormData): Promise<FormResult<null>> {
  const h = await headers();
  const r = await signIn(authDb(), { name: form.get("name"), password: form.get("password") }, { client: clientAddress(h) });
  if (!r.ok) return { ok: false, code: r.code, message: r.message, ...("fields" in r && r.fields ? { fieldErrors: r.fields } : {}) };
  (await cookies()).set(SESSION_COOKIE, r.token, sessionCookieOptions(wantsSecureCookie(h), r.expiresAt));
  redirect(safeReturnPath(form.get("next")));
}

export async function signOutAction(): Promise<void> {
  const jar = await cookies();
  const token = jar.get(SESSION_COOKIE)?.value;
  const db = authDb();
  signOut(db, token, sessionFor(db, token)?.operator.name ?? null);
  jar.delete(SESSION_COOKIE);
  redirect("/sign-in");
}
