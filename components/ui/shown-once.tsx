"use client";

import { inputCls } from "./table";

/** A new secret (an API token, a webhook signing secret) in a read-only field that selects itself: the one time it is shown. */
export function ShownOnce({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <p className="text-sm">
      <label htmlFor={id} className="block text-xs font-medium">{label} (shown once)</label>
      <input id={id} readOnly value={value} className={`${inputCls} w-full font-mono`} onFocus={(e) => e.currentTarget.select()} />
    </p>
  );
}
