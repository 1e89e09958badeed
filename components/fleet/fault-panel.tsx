"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useActionState, useEffect } from "react";
import { faultsQuery, instancesQuery, queryKeys } from "@/components/queries";
import { statusOf, type FormAction, type FormResult } from "@/components/ui/action-state";
import { formatClock } from "@/components/ui/format";
import { StatusLine } from "@/components/ui/status-line";
import { Panel, buttonCls, inputCls } from "@/components/ui/table";
import type { FaultView } from "@/lib/views";

const KIND_LABEL: Record<string, string> = {
  "deploy-fails": "Next deploy fails",
  "start-fails": "Next start fails",
  "health-fails-after-start": "Health check fails after start",
  "slow-drain": "Drain is slow (held request)",
  "backend-500": "Backend returns 500s",
};

/** Demo and test aid for the local fleet: arm a fault on one instance, or clear them all. */
export function FaultPanel({ lb, kinds, inject, clear }: { lb: string; kinds: readonly string[]; inject: FormAction<FaultView[]>; clear: FormAction<FaultView[]> }) {
  const client = useQueryClient();
  const { data: fleet } = useQuery(instancesQuery(lb));
  const { data: faults } = useQuery(faultsQuery());
  const [state, action, pending] = useActionState<FormResult<FaultView[]> | null, FormData>((prev, form) => (form.get("intent") === "clear" ? clear(prev, form) : inject(prev, form)), null);

  useEffect(() => {
    if (state?.ok) client.setQueryData(queryKeys.faults, state.data);
  }, [state, client]);

  return (
    <Panel id="faults-heading" title="Fault injection (local fleet)">
      <div className="space-y-2 p-3">
        <form action={action} className="flex flex-wrap items-end gap-2 text-sm">
          <div className="flex flex-col gap-1">
            <label htmlFor="fault-kind" className="text-xs text-zinc-500 dark:text-zinc-400">
              Fault
            </label>
            <select id="fault-kind" name="kind" className={inputCls} defaultValue={kinds[0]}>
              {kinds.map((k) => (
                <option key={k} value={k}>
                  {KIND_LABEL[k] ?? k}
                </option>
              ))}
            </select>
          </div>
          <div className="flex flex-col gap-1">
            <label htmlFor="fault-instance" className="text-xs text-zinc-500 dark:text-zinc-400">
              Instance
            </label>
            <select id="fault-instance" name="instanceId" className={`${inputCls} font-mono`}>
              {(fleet?.instances ?? []).map((i) => (
                <option key={i.id} value={i.id}>
                  {i.id}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" name="intent" value="inject" className={buttonCls.secondary} disabled={pending}>
            Inject fault
          </button>
          <button type="submit" name="intent" value="clear" className={buttonCls.secondary} disabled={pending || (faults?.length ?? 0) === 0}>
            Clear faults
          </button>
        </form>
        <ul aria-label="Armed faults" className="space-y-0.5 text-xs">
          {(faults ?? []).map((f) => (
            <li key={`${f.kind}-${f.instanceId}`} className="flex gap-2">
              <span className="font-mono">{formatClock(f.since)}</span>
              <span className="font-medium text-amber-700 dark:text-amber-300">{KIND_LABEL[f.kind] ?? f.kind}</span>
              <span className="font-mono">{f.instanceId}</span>
              {f.active && <span className="text-red-700 dark:text-red-400">active</span>}
            </li>
          ))}
          {faults && faults.length === 0 && <li className="text-zinc-500 dark:text-zinc-400">No faults armed.</li>}
        </ul>
        <StatusLine state={statusOf(state, "Done")} />
      </div>
    </Panel>
  );
}
