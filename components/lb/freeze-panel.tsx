"use client";

import { useRouter } from "next/navigation";
import { useActionState, useEffect } from "react";
import { statusOf, type FormAction, type FormResult } from "@/components/ui/action-state";
import { StatusLine } from "@/components/ui/status-line";
import { Panel, buttonCls, inputCls } from "@/components/ui/table";
import type { FreezeView } from "@/lib/views";

const utc = (ms: number) => `${new Date(ms).toISOString().replace("T", " ").slice(0, 16)} UTC`;

/**
 * A deploy freeze on this load balancer: everyone sees it (who, why, until when); admins freeze with a
 * reason and an end time, and lift it early. Running rollouts are not affected.
 */
export function FreezePanel({ lb, freeze, canManage, action }: { lb: string; freeze: FreezeView | null; canManage: boolean; action: FormAction }) {
  const router = useRouter();
  const [state, submit, pending] = useActionState<FormResult | null, FormData>(action, null);
  useEffect(() => {
    if (state?.ok) router.refresh();
  }, [state, router]);
  if (!freeze && !canManage) return null;
  const fieldError = (k: string) => (state && !state.ok ? state.fieldErrors?.[k] : undefined);
  return (
    <Panel id="freeze-heading" title="Deploy freeze">
      <div className="space-y-2 p-3 text-sm">
        {freeze ? (
          <p role="status" className="rounded border border-amber-400 bg-amber-50 px-3 py-2 text-amber-900 dark:border-amber-500 dark:bg-amber-950 dark:text-amber-100">
            <strong>Frozen until {utc(freeze.endsAt)}</strong> by {freeze.createdBy}: {freeze.reason}. New rollouts on {lb} are refused until then; running ones can still be paused, aborted or rolled
            back.
          </p>
        ) : (
          <p className="text-zinc-700 dark:text-zinc-300">Not frozen: rollouts may start.</p>
        )}
        {canManage && (
          <form action={submit} className="flex flex-wrap items-end gap-2">
            <input type="hidden" name="lb" value={lb} />
            {!freeze && (
              <>
                <div className="flex flex-col gap-1">
                  <label htmlFor="freeze-reason" className="text-xs text-zinc-700 dark:text-zinc-300">
                    Reason
                  </label>
                  <input id="freeze-reason" name="reason" className={inputCls} required minLength={3} maxLength={500} aria-invalid={fieldError("reason") ? true : undefined} />
                </div>
                <div className="flex flex-col gap-1">
                  <label htmlFor="freeze-until" className="text-xs text-zinc-700 dark:text-zinc-300">
                    Until (8h, 2d, or 2026-12-24T18:00 UTC)
                  </label>
                  <input id="freeze-until" name="until" className={`${inputCls} font-mono`} required aria-invalid={fieldError("until") ? true : undefined} />
                </div>
              </>
            )}
            <button type="submit" name="intent" value={freeze ? "lift" : "freeze"} className={buttonCls.secondary} disabled={pending}>
              {freeze ? "Lift the freeze" : "Freeze"}
            </button>
          </form>
        )}
        <StatusLine state={statusOf(state, "Done")} />
      </div>
    </Panel>
  );
}
