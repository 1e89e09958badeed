"use client";

import type { FormField, RolloutFormValues } from "@/components/rollout/form-values";
import { Field, describe } from "@/components/ui/field";
import { inputCls } from "@/components/ui/table";

type Set = <K extends keyof RolloutFormValues>(k: K, v: RolloutFormValues[K]) => void;

export function RolloutFields({ values: v, set, errorFor, onVersionBlur }: { values: RolloutFormValues; set: Set; errorFor: (f: FormField) => string | undefined; onVersionBlur: () => void }) {
  const unit = (name: "batchUnit" | "minHealthyUnit", label: string) => (
    <select name={name} aria-label={label} className={inputCls} value={v[name]} onChange={(e) => set(name, e.target.value === "percent" ? "percent" : "count")}>
      <option value="count">instances</option>
      <option value="percent">% of fleet</option>
    </select>
  );
  return (
    <>
      <Field id="version" label="Version" hint="Letters, digits and . _ - + (1–128 characters)" error={errorFor("version")}>
        <input {...describe("version", errorFor("version"), true)} name="version" autoComplete="off" spellCheck={false} className={`${inputCls} w-full font-mono`} value={v.version} onChange={(e) => set("version", e.target.value)} onBlur={onVersionBlur} />
      </Field>
      <fieldset className="space-y-1.5">
        <legend className="text-xs font-medium text-zinc-700 dark:text-zinc-300">Strategy</legend>
        <div className="flex flex-wrap items-center gap-4 text-sm">
          <label className="flex items-center gap-2">
            <input type="radio" name="strategy" value="in-place" checked={v.strategy === "in-place"} onChange={() => set("strategy", "in-place")} />
            In place: deploy on each instance
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="strategy" value="replace" checked={v.strategy === "replace"} onChange={() => set("strategy", "replace")} />
            Replace through the Auto Scaling group
          </label>
        </div>
      </fieldset>
      {v.strategy === "replace" && (
        <div className="grid grid-cols-[7rem_1fr] gap-3">
          <Field id="surge" label="Surge" hint="Launched before each batch goes out, at most the batch size. 0: in service dips by a batch; the batch size: never below today's count (needs max ≥ desired + surge)." error={errorFor("surge")}>
            <input {...describe("surge", errorFor("surge"), true)} name="surge" inputMode="numeric" className={`${inputCls} w-16 font-mono`} value={v.surge} onChange={(e) => set("surge", e.target.value)} />
          </Field>
          <Field id="launchTarget" label="Launch target (optional)" hint="AWS: a launch template version (3, $Latest) or an AMI id; the local fleet: a release. Empty: the version." error={errorFor("launchTarget")}>
            <input {...describe("launchTarget", errorFor("launchTarget"), true)} name="launchTarget" autoComplete="off" spellCheck={false} placeholder={v.version || "the version"} className={`${inputCls} w-full font-mono`} value={v.launchTarget} onChange={(e) => set("launchTarget", e.target.value)} />
          </Field>
        </div>
      )}
      <div className="grid grid-cols-2 gap-3">
        <Field id="batchSize" label="Batch size" error={errorFor("batchSize")}>
          <input {...describe("batchSize", errorFor("batchSize"))} name="batchSize" inputMode="numeric" className={`${inputCls} w-16 font-mono`} value={v.batchSize} onChange={(e) => set("batchSize", e.target.value)} />
          {unit("batchUnit", "Batch size unit")}
        </Field>
        <Field id="minHealthy" label="Min healthy" hint="Empty: fleet minus batch, at least 1" error={errorFor("minHealthy")}>
          <input {...describe("minHealthy", errorFor("minHealthy"), true)} name="minHealthy" inputMode="numeric" className={`${inputCls} w-16 font-mono`} value={v.minHealthy} onChange={(e) => set("minHealthy", e.target.value)} />
          {unit("minHealthyUnit", "Min healthy unit")}
        </Field>
      </div>
      {v.minHealthyUnit === "count" && v.minHealthy.trim() !== "" && Number(v.minHealthy) === 0 && (
        <label className="flex items-start gap-2 rounded-md border border-red-300 bg-red-50 p-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
          <input type="checkbox" name="confirmNoCapacity" className="mt-0.5" checked={v.confirmNoCapacity} onChange={(e) => set("confirmNoCapacity", e.target.checked)} />
          <span>Yes, min healthy 0: this takes the whole load balancer out of service while a batch holds every instance in service.</span>
        </label>
      )}
      <div className="grid grid-cols-2 gap-3">
        <Field id="drainTimeout" label="Drain timeout (s)" hint="Empty: the load balancer's" error={errorFor("drainTimeout")}>
          <input {...describe("drainTimeout", errorFor("drainTimeout"), true)} name="drainTimeout" inputMode="numeric" className={`${inputCls} w-20 font-mono`} value={v.drainTimeout} onChange={(e) => set("drainTimeout", e.target.value)} />
        </Field>
        <fieldset className="space-y-1 text-sm">
          <legend className="text-xs font-medium text-zinc-700 dark:text-zinc-300">Options</legend>
          <label className="flex items-center gap-2">
            <input type="checkbox" name="canary" checked={v.canary} onChange={(e) => set("canary", e.target.checked)} />
            Canary first (batch of 1)
          </label>
          <label className="flex items-center gap-2">
            <input type="checkbox" name="includeOutOfService" checked={v.includeOutOfService} onChange={(e) => set("includeOutOfService", e.target.checked)} />
            Include out-of-service
          </label>
        </fieldset>
      </div>
      <fieldset className="space-y-1.5">
        <legend className="text-xs font-medium text-zinc-700 dark:text-zinc-300">Approval</legend>
        <div className="flex flex-wrap items-center gap-4 text-sm">
          <label className="flex items-center gap-2">
            <input type="radio" name="approval" value="manual" checked={v.approval === "manual"} onChange={() => set("approval", "manual")} />
            Manual: approve each batch
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="approval" value="auto" checked={v.approval === "auto"} onChange={() => set("approval", "auto")} />
            Automatic after bake time
          </label>
        </div>
        {v.approval === "auto" && (
          <Field id="bake" label="Bake time (s)" error={errorFor("bake")}>
            <input {...describe("bake", errorFor("bake"))} name="bake" inputMode="numeric" className={`${inputCls} w-20 font-mono`} value={v.bake} onChange={(e) => set("bake", e.target.value)} />
          </Field>
        )}
      </fieldset>
      <fieldset className="space-y-1.5">
        <legend className="text-xs font-medium text-zinc-700 dark:text-zinc-300">Batch analysis</legend>
        <div className="grid gap-3 sm:grid-cols-[9rem_1fr]">
          <Field id="analysisWindow" label="Window (s)" hint="After each batch is back in service: its new instances against the old ones. Empty: the server's default (60 s unless set); 0: off." error={errorFor("analysisWindow")}>
            <input {...describe("analysisWindow", errorFor("analysisWindow"), true)} name="analysisWindow" inputMode="numeric" placeholder="default" className={`${inputCls} w-20 font-mono`} value={v.analysisWindow} onChange={(e) => set("analysisWindow", e.target.value)} />
          </Field>
          <Field id="analysisOnFail" label="If a batch fails its analysis">
            <select id="analysisOnFail" name="analysisOnFail" className={`${inputCls} max-w-full`} value={v.analysisOnFail} onChange={(e) => set("analysisOnFail", e.target.value === "rollback" ? "rollback" : "pause")}>
              <option value="pause">Pause for a person</option>
              <option value="rollback">Roll back automatically</option>
            </select>
          </Field>
        </div>
        <Field id="analysisAlarms" label="CloudWatch alarms (optional)" hint="AWS: alarm names, separated by commas; any in ALARM during a window fails the batch." error={errorFor("analysisAlarms")}>
          <input {...describe("analysisAlarms", errorFor("analysisAlarms"), true)} name="analysisAlarms" autoComplete="off" spellCheck={false} className={`${inputCls} w-full font-mono`} value={v.analysisAlarms} onChange={(e) => set("analysisAlarms", e.target.value)} />
        </Field>
      </fieldset>
      <Field id="order" label="Explicit order (optional)" hint="Every instance id once, separated by spaces or new lines. Empty: spread across zones." error={errorFor("order")}>
        <textarea {...describe("order", errorFor("order"), true)} name="order" rows={2} spellCheck={false} className={`${inputCls} w-full font-mono text-xs`} value={v.order} onChange={(e) => set("order", e.target.value)} />
      </Field>
    </>
  );
}
