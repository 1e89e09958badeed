import type { ReactNode } from "react";

export const th = "px-2 py-1.5 text-left text-xs font-medium uppercase tracking-wide text-zinc-500 dark:text-zinc-400";
export const td = "px-2 py-1.5 align-top";

export function Panel({ title, actions, children, id }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; id?: string }) {
  return (
    <section aria-labelledby={title && id ? id : undefined} className="rounded-md border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
      {title != null && (
        <div className="flex flex-wrap items-center gap-x-3 gap-y-2 border-b border-zinc-200 px-3 py-2 dark:border-zinc-800">
          <h2 id={id} className="text-sm font-semibold">
            {title}
          </h2>
          {actions && <div className="ml-auto flex flex-wrap items-center gap-2">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

/**
 * A wide table's own scroll box: on a narrow screen the table scrolls sideways inside it while the
 * page does not. A named region that takes focus, so a keyboard can scroll it too (arrow keys).
 * Positioned, so that absolutely positioned content inside (sr-only labels in cells) is clipped with
 * the table instead of widening the page.
 */
export function ScrollBox({ label, children, className = "overflow-x-auto" }: { label: string; children: ReactNode; className?: string }) {
  return (
    <div role="region" aria-label={label} tabIndex={0} className={`relative ${className} focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-sky-600`}>
      {children}
    </div>
  );
}

export function SortHeader<K extends string>({
  label,
  k,
  sort,
  onSort,
  className = "",
}: {
  label: string;
  k: K;
  sort: { key: K; dir: "asc" | "desc" };
  onSort: (k: K) => void;
  className?: string;
}) {
  const active = sort.key === k;
  return (
    <th scope="col" aria-sort={active ? (sort.dir === "asc" ? "ascending" : "descending") : "none"} className={`${th} ${className}`}>
      <button type="button" onClick={() => onSort(k)} className="inline-flex items-center gap-1 uppercase hover:text-zinc-900 dark:hover:text-zinc-100">
        {label}
        <span aria-hidden className={active ? "" : "opacity-30"}>
          {active && sort.dir === "desc" ? "▾" : "▴"}
        </span>
      </button>
    </th>
  );
}

export const inputCls =
  "rounded border border-zinc-300 bg-white px-2 py-1 text-sm text-zinc-900 shadow-xs focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-500/30 dark:border-zinc-700 dark:bg-zinc-950 dark:text-zinc-100 aria-invalid:border-red-500";

export const buttonCls = {
  primary:
    "inline-flex items-center gap-1.5 rounded bg-sky-700 px-3 py-1.5 text-sm font-medium text-white shadow-xs hover:bg-sky-800 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:cursor-not-allowed disabled:bg-zinc-300 disabled:text-zinc-500 dark:bg-sky-700 dark:hover:bg-sky-800 dark:disabled:bg-zinc-800 dark:disabled:text-zinc-500",
  secondary:
    "inline-flex items-center gap-1.5 rounded border border-zinc-300 bg-white px-3 py-1.5 text-sm font-medium text-zinc-800 shadow-xs hover:bg-zinc-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-600 disabled:cursor-not-allowed disabled:border-dashed disabled:opacity-50 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100 dark:hover:bg-zinc-800",
  danger:
    "inline-flex items-center gap-1.5 rounded border border-red-300 bg-white px-3 py-1.5 text-sm font-medium text-red-700 shadow-xs hover:bg-red-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-600 disabled:cursor-not-allowed disabled:border-dashed disabled:opacity-50 dark:border-red-500/40 dark:bg-zinc-900 dark:text-red-300 dark:hover:bg-red-500/10",
  dangerSolid:
    "inline-flex items-center gap-1.5 rounded bg-red-700 px-3 py-1.5 text-sm font-medium text-white shadow-xs hover:bg-red-800 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-600 dark:bg-red-600 dark:hover:bg-red-500",
} as const;
