"use client";

import { useActionState, useState } from "react";
import { statusOf, type FormAction, type FormResult } from "@/components/ui/action-state";
import { describe, Field } from "@/components/ui/field";
import { StatusLine } from "@/components/ui/status-line";
import { buttonCls, inputCls } from "@/components/ui/table";

/** Name and password, and single sign-on when it is configured. */
export function SignInForm({ action, next, ssoHref, error }: { action: FormAction<null>; next: string; ssoHref?: string; error?: string }) {
  const [state, submit, pending] = useActionState<FormResult<null> | null, FormData>(action, null);
  // Controlled, so that React's reset of the form after a refused sign-in keeps the name.
  const [name, setName] = useState("");
  const fields = state && !state.ok ? state.fieldErrors : undefined;
  const status = statusOf(state, "Signed in") ?? (error ? { ok: false, message: error } : null);
  return (
    <div className="space-y-4 rounded-md border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900">
      <form action={submit} className="space-y-3" aria-label="Sign-in form">
        <input type="hidden" name="next" value={next} />
        <Field id="name" label="Operator name" error={fields?.name}>
          <input {...describe("name", fields?.name)} name="name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="username" required autoFocus className={`${inputCls} w-full`} />
        </Field>
        <Field id="password" label="Password" error={fields?.password}>
          <input {...describe("password", fields?.password)} name="password" type="password" autoComplete="current-password" required className={`${inputCls} w-full`} />
        </Field>
        <button type="submit" disabled={pending} className={buttonCls.primary}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
        <StatusLine state={status} />
      </form>
      {ssoHref ? (
        <p className="border-t border-zinc-200 pt-3 text-sm dark:border-zinc-800">
          <a href={ssoHref} className={buttonCls.secondary}>
            Sign in with single sign-on
          </a>
        </p>
      ) : null}
    </div>
  );
}
