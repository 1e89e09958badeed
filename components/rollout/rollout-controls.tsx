"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useActionState, useEffect, useId, useRef } from "react";
import { queryKeys } from "@/components/queries";
import { ConfirmSubmit } from "@/components/ui/confirm-dialog";
import { statusOf, type FormAction, type FormResult } from "@/components/ui/action-state";
import { StatusLine } from "@/components/ui/status-line";
import { buttonCls } from "@/components/ui/table";
import type { NextActionView } from "@/lib/views";

const consequence: Record<string, string> = {
  abort: "The step in progress finishes, healthy drained instances go back into rotation, and the rollout stops. Instances already updated keep the new version.",
  rollback: "Every instance this rollout touched goes back to its previous version, newest first, with the same drain-and-verify procedure.",
  "skip-instance": "The instance stays out of rotation on its current version and the rollout continues without it.",
};

/** The operator's controls, exactly as derivePhase offers them; the result lands in a status line. */
/**
 * `approveBatch` is the batch the page shows as waiting: the approval names it, so an approval that
 * arrives late (the page was stale) is refused instead of starting a batch nobody looked at.
 */
export function RolloutControls({ rolloutId, actions, act, approveBatch }: { rolloutId: string; actions: NextActionView[]; act: FormAction; approveBatch?: number }) {
  const [state, formAction, pending] = useActionState<FormResult | null, FormData>(act, null);
  const client = useQueryClient();
  const base = useId();
  const last = useRef<FormResult | null>(null);

  useEffect(() => {
    if (state && state !== last.current) {
      last.current = state;
      void client.invalidateQueries({ queryKey: queryKeys.rollout(rolloutId) });
    }
  }, [state, client, rolloutId]);

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
                    body={consequence[a.action] ?? "This cannot be undone."}
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
