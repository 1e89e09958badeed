import { Forbidden } from "@/components/auth/forbidden";
import { pageOperator } from "@/server/auth/guard";
import { HydrationBoundary } from "@tanstack/react-query";
import type { Metadata } from "next";
import { queryKeys } from "@/components/queries";
import { RolloutHistory } from "@/components/rollout/rollout-history";
import { prefetch } from "@/server/api/prefetch";
import { rolloutList } from "@/server/api/rollouts";
import { providerProblem } from "@/server/api/fleet";
import { ProviderProblem } from "@/components/ui/provider-problem";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Rollouts" };

export default async function RolloutsPage() {
  const auth = await pageOperator("read", "/rollouts");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const [state, problem] = await Promise.all([prefetch([[queryKeys.rolloutList, rolloutList]]), providerProblem()]);
  return (
    <section aria-labelledby="history-heading" className="space-y-4">
      <h1 id="history-heading" className="text-xl font-semibold">
        Rollouts
      </h1>
      {problem && <ProviderProblem problem={problem} />}
      <HydrationBoundary state={state}>
        <RolloutHistory />
      </HydrationBoundary>
    </section>
  );
}
