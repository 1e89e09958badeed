"use client";

import { useRef, type ReactNode } from "react";
import { buttonCls } from "@/components/ui/table";

/**
 * A destructive control: the trigger opens a modal that names the consequence; only the
 * dialog's own button submits (it lives inside the caller's form).
 */
export function ConfirmSubmit({ label, title, body, disabled, describedBy, pending }: { label: string; title: string; body: ReactNode; disabled?: boolean; describedBy?: string; pending?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button type="button" className={buttonCls.danger} disabled={disabled || pending} aria-describedby={describedBy} aria-haspopup="dialog" onClick={() => ref.current?.showModal()}>
        {label}
      </button>
      <dialog
        ref={ref}
        aria-label={title}
        className="m-auto w-full max-w-md rounded-md border border-zinc-200 bg-white p-0 text-zinc-900 shadow-xl backdrop:bg-zinc-950/40 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100"
      >
        <div className="space-y-3 p-4">
          <h2 className="text-base font-semibold">{title}</h2>
          <div className="text-sm text-zinc-600 dark:text-zinc-300">{body}</div>
          <div className="flex justify-end gap-2 pt-1">
            <button type="button" className={buttonCls.secondary} onClick={() => ref.current?.close()} autoFocus>
              Cancel
            </button>
            <button type="submit" className={buttonCls.dangerSolid} onClick={() => ref.current?.close()}>
              {label}
            </button>
          </div>
        </div>
      </dialog>
    </>
  );
}
