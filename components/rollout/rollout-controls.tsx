"use client";

import { useActionState, useId } from "react";
import { ConfirmSubmit } from "@/components/ui/confirm-dialog";
import { statusOf, type FormAction, type FormResult } from "@/components/ui/action-state";
import { StatusLine } from "@/components/ui/status-line";
import { buttonCls } from "@/components/ui/table";
import { ACTIONS } from "@/lib/rollout/actions";
import type { NextActionView } from "@/lib/views";

/**
 * The operator's controls, exactly as derivePhase offers them; the result lands in a status line and
 * the page itself refreshes through the event stream. `approveBatch` is the batch the page shows as waiting: the approval names it, so an approval that
 * arrives late (the page was stale) is refused instead of starting a batch nobody looked at.
 */
export function RolloutControls({ rolloutId, actions, act, approveBatch }: { rolloutId: string; actions: NextActionView[]; act: FormAction; approveBatch?: number }) {
  const [state, formAction, pending] = useActionState<FormResult | null, FormData>(act, null);
  const base = useId();

  return (
    <div className="space-y-1.5">
      <div role="group" aria-label="Rollout controls" className="flex flex-wrap items-center gap-2">
        {actions.filter((a) => a.action !== "start" || a.enabled).map((a, i) => {
          const reasonId = `${base}-r${i}`;
          const describedBy = !a.enabled && a.reason ? reasonId : undefined;
          return (
            <form key={`${a.action}-${a.instanceId ?? ""}`} action={formAction}>
              <input type="hidden" name="rolloutId" value={rolloutId} />
              <input type="hidden" name="type" value={a.action} />
              {a.instanceId && <input type="hidden" name="instanceId" value={a.instanceId} />}
              {a.action === "approve" && approveBatch !== undefined && <input type="hidden" name="batch" value={approveBatch} />}
              <span title={!a.enabled ? a.reason : undefined} className="inline-flex">
                {a.destructive ? (
                  <ConfirmSubmit
                    label={a.label}
                    title={`${a.label}?`}
                    body={ACTIONS[a.action].consequence ?? "This cannot be undone."}
                    disabled={!a.enabled}
                    pending={pending}
                    describedBy={describedBy}
                  />
                ) : (
                  <button type="submit" className={a.action === "approve" || a.action === "resume" ? buttonCls.primary : buttonCls.secondary} disabled={!a.enabled || pending} aria-describedby={describedBy}>
                    {a.label}
                  </button>
                )}
              </span>
              {describedBy && (
                <span id={reasonId} className="sr-only">
                  {a.reason}
                </span>
              )}
            </form>
          );
        })}
      </div>
      <StatusLine state={statusOf(state, "Accepted")} />
    </div>
  );
}
