"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useActionState, useEffect, useMemo, useState } from "react";
import { instancesQuery, replacePreviewQuery } from "@/components/queries";
import { PlanPreview } from "@/components/rollout/plan-preview";
import { ReplacePlanPreview } from "@/components/rollout/replace-plan-preview";
import { RolloutFields } from "@/components/rollout/rollout-fields";
import { defaultFormValues, readForm, replaceFieldErrors, replacePreviewParams, toFormFields, type FormField, type RolloutFormValues } from "@/components/rollout/form-values";
import { statusOf, type FormAction, type FormResult } from "@/components/ui/action-state";
import { StatusLine } from "@/components/ui/status-line";
import { buttonCls } from "@/components/ui/table";
import { useDebounced } from "@/components/ui/use-debounced";
import { planRollout } from "@/lib/rollout/plan";
import { toFleetInstance } from "@/lib/fleet";
import type { FleetInstance } from "@/lib/rollout/types";

type Started = { id: string };

export function NewRolloutForm({ lb, start }: { lb: string; start: FormAction<Started> }) {
  const { data } = useQuery(instancesQuery(lb));
  const router = useRouter();
  const [values, setValues] = useState<RolloutFormValues>(() => defaultFormValues(lb));
  const [touched, setTouched] = useState(false);
  const [state, formAction, pending] = useActionState<FormResult<Started> | null, FormData>(start, null);

  const fleet: FleetInstance[] = useMemo(() => (data?.instances ?? []).map(toFleetInstance), [data]);

  const preview = useMemo(() => {
    const read = readForm(values);
    const none: Partial<Record<FormField, string>> = {};
    if (!read.ok) return { fields: read.fields, plan: null, planError: null, options: null };
    if (!data) return { fields: none, plan: null, planError: null, options: null };
    // Replace: the group's arithmetic is the capacity floor (checked by the server's preview), so the
    // in-place planner only judges the other fields here, as the start command does.
    const options = values.strategy === "replace" ? { ...read.request.options, minHealthy: { unit: "count" as const, value: 0 } } : read.request.options;
    const r = planRollout(fleet, options);
    return r.ok ? { fields: none, plan: r.plan, planError: null, options: read.request.options } : { fields: { [r.error.field]: r.error.message } as Partial<Record<FormField, string>>, plan: null, planError: r.error, options: null };
  }, [values, fleet, data]);

  // The replace preview asks the server (a survey of the group) once the form reads well, after a pause in typing.
  // Debounced as a string: a new URLSearchParams each render would never settle.
  const query = useDebounced(preview.plan ? (replacePreviewParams(values)?.toString() ?? null) : null, 300);
  const params = query === null ? null : new URLSearchParams(query);
  const replace = useQuery({ ...replacePreviewQuery(lb, params ?? new URLSearchParams()), enabled: params !== null, placeholderData: keepPreviousData });

  useEffect(() => {
    if (state?.ok) router.push(`/rollouts/${encodeURIComponent(state.data.id)}`);
  }, [state, router]);

  const serverFields = state && !state.ok ? toFormFields(state.fieldErrors ?? {}) : {};
  const replaceFields: Partial<Record<FormField, string>> = values.strategy === "replace" ? replaceFieldErrors(params === null ? undefined : replace.data) : {};
  const errorFor = (f: FormField): string | undefined => {
    if (f === "version" && values.version === "" && !touched && !serverFields.version) return undefined;
    return preview.fields[f] ?? replaceFields[f] ?? serverFields[f];
  };
  const set = <K extends keyof RolloutFormValues>(k: K, v: RolloutFormValues[K]) => setValues((prev) => ({ ...prev, [k]: v }));

  return (
    <div className="grid gap-4 lg:grid-cols-[minmax(0,26rem)_1fr]">
      <form action={formAction} onSubmit={() => setTouched(true)} noValidate aria-label="New rollout" className="space-y-4 rounded-md border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900">
        <input type="hidden" name="lb" value={lb} />
        <RolloutFields values={values} set={set} errorFor={errorFor} onVersionBlur={() => setTouched(true)} />
        <div className="flex items-center gap-3 border-t border-zinc-200 pt-3 dark:border-zinc-800">
          <button type="submit" className={buttonCls.primary} disabled={pending}>
            {pending ? "Starting…" : "Start rollout"}
          </button>
          <span className="text-xs text-zinc-500 dark:text-zinc-400">Nothing changes until you press Start.</span>
        </div>
        <StatusLine state={statusOf(state, "Rollout started; opening it…")} />
      </form>
      {values.strategy === "replace" ? (
        <ReplacePlanPreview
          answer={params === null ? undefined : replace.data}
          loading={params !== null && replace.isFetching}
          error={params === null ? null : replace.error}
          fleet={fleet}
          options={preview.options}
          formError={preview.planError?.message ?? null}
        />
      ) : (
        <PlanPreview plan={preview.plan} error={preview.planError ?? (serverFields.fleet ? { code: "EMPTY_FLEET", field: "fleet", message: serverFields.fleet } : null)} fleetSize={fleet.length} />
      )}
    </div>
  );
}
