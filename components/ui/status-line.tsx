/** The result line of a form or control: announced politely, coloured by outcome. */
export function StatusLine({ state, id }: { state: { ok: boolean; message: string } | null; id?: string }) {
  const colour = !state ? "" : state.ok ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400";
  return (
    <p id={id} role="status" aria-live="polite" className={`min-h-5 text-sm ${colour}`}>
      {state?.message ?? ""}
    </p>
  );
}
