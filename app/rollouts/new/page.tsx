import { Forbidden } from "@/components/auth/forbidden";
import { pageOperator } from "@/server/auth/guard";
import { HydrationBoundary } from "@tanstack/react-query";
import type { Metadata } from "next";
import Link from "next/link";
import { startRolloutAction } from "@/app/actions/rollout";
import { queryKeys } from "@/components/queries";
import { NewRolloutForm } from "@/components/rollout/new-rollout-form";
import { PhaseBadge } from "@/components/ui/badges";
import { ProblemPage } from "@/components/ui/provider-problem";
import { fleetView, providerProblem } from "@/server/api/fleet";
import { prefetch, readNow } from "@/server/api/prefetch";
import { runtime } from "@/server/runtime";
import { readOrNotFound } from "@/app/page-read";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "New rollout" };

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

export default async function NewRolloutPage({ searchParams }: Props) {
  const raw = (await searchParams).lb;
  const lb = Array.isArray(raw) ? raw[0] : raw;
  const auth = await pageOperator("read", lb ? `/rollouts/new?lb=${encodeURIComponent(lb)}` : "/rollouts/new");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const problem = await providerProblem(lb);
  if (problem) return <ProblemPage heading={lb ? <>New rollout on <span className="font-mono">{lb}</span></> : "New rollout"} problem={problem} />;
  if (!lb) {
    const lbs = (await runtime().monitor.listLoadBalancers()).filter((l) => !l.problem);
    return (
      <section aria-labelledby="new-heading" className="space-y-3">
        <h1 id="new-heading" className="text-xl font-semibold">
          New rollout
        </h1>
        <p className="text-sm">Choose the load balancer to roll out to:</p>
        <ul className="list-inside list-disc text-sm">
          {lbs.map((l) => (
            <li key={l.name}>
              <Link href={`/rollouts/new?lb=${encodeURIComponent(l.name)}`} className="font-mono text-sky-700 hover:underline dark:text-sky-400">
                {l.name}
              </Link>
            </li>
          ))}
        </ul>
      </section>
    );
  }
  const view = await readNow(() => readOrNotFound(() => fleetView(lb)));
  const state = await prefetch([[queryKeys.instances(lb), view]]);
  const active = view.value.activeRollout;
  return (
    <section aria-labelledby="new-heading" className="space-y-4">
      <div>
        <p className="text-xs text-zinc-500 dark:text-zinc-400">
          <Link href={`/lb/${encodeURIComponent(lb)}`} className="font-mono hover:underline">
            {lb}
          </Link>
        </p>
        <h1 id="new-heading" className="text-xl font-semibold">
          New rollout on <span className="font-mono">{lb}</span>
        </h1>
      </div>
      {active && (
        <p role="note" className="flex items-center gap-2 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-500/40 dark:bg-amber-500/10 dark:text-amber-200">
          <PhaseBadge phase={active.phase} />
          <span>
            Rollout{" "}
            <Link href={`/rollouts/${encodeURIComponent(active.id)}`} className="font-mono underline">
              {active.id}
            </Link>{" "}
            to <span className="font-mono">{active.targetVersion}</span> is still active: a new one is refused until it ends.
          </span>
        </p>
      )}
      <HydrationBoundary state={state}>
        <NewRolloutForm lb={lb} start={startRolloutAction} />
      </HydrationBoundary>
    </section>
  );
}
