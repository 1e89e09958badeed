"use client";

import { useQuery } from "@tanstack/react-query";
import { trafficQuery } from "@/components/queries";
import { formatCount } from "@/components/ui/format";

/** The load balancer's own traffic counters (the local fleet's traffic generator), live. */
export function TrafficCounter({ lb }: { lb: string }) {
  const { data } = useQuery(trafficQuery(lb));
  if (data === undefined) return null;
  if (data === null) return <p className="text-xs text-zinc-500 dark:text-zinc-400">This provider does not report traffic.</p>;
  const kinds = Object.entries(data.failuresByKind).filter(([, n]) => n > 0);
  return (
    <section aria-label="Traffic" className="flex flex-wrap items-baseline gap-x-5 gap-y-1 text-sm">
      <Stat label="Requests" value={formatCount(data.requests)} />
      <Stat label="Succeeded" value={formatCount(data.ok)} />
      <Stat label="Failed requests" short="Failed" value={formatCount(data.failed)} bad={data.failed > 0} />
      {data.ratePerSec != null && <Stat label="Rate" value={`${data.ratePerSec.toFixed(0)}/s`} />}
      {kinds.length > 0 && <span className="text-xs text-red-700 dark:text-red-400">{kinds.map(([k, n]) => `${k}: ${n}`).join(" · ")}</span>}
    </section>
  );
}

export function Stat({ label, short, value, bad }: { label: string; short?: string; value: string; bad?: boolean }) {
  return (
    <span className="flex items-baseline gap-1.5">
      <span className="text-xs text-zinc-500 dark:text-zinc-400">{short ?? label}</span>
      <span aria-label={label} className={`font-mono tabular-nums ${bad ? "font-semibold text-red-700 dark:text-red-400" : ""}`}>
        {value}
      </span>
    </span>
  );
}
