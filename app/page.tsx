import { Forbidden } from "@/components/auth/forbidden";
import { pageOperator } from "@/server/auth/guard";
import { HydrationBoundary } from "@tanstack/react-query";
import { LoadBalancerList } from "@/components/lb/lb-list";
import { queryKeys } from "@/components/queries";
import { ProviderProblem } from "@/components/ui/provider-problem";
import { loadBalancerRows, providerProblem } from "@/server/api/fleet";
import { prefetch } from "@/server/api/prefetch";

export const dynamic = "force-dynamic";

export default async function HomePage() {
  const auth = await pageOperator("read", "/");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const problem = await providerProblem();
  const state = problem ? null : await prefetch([[queryKeys.loadBalancers, loadBalancerRows]]);
  return (
    <section aria-labelledby="lb-heading" className="space-y-4">
      <div>
        <h1 id="lb-heading" className="text-xl font-semibold">
          Load balancers
        </h1>
        <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">Supervised, batch-by-batch rollouts for the fleet behind each load balancer.</p>
      </div>
      {problem ? (
        <ProviderProblem problem={problem} />
      ) : (
        <HydrationBoundary state={state}>
          <LoadBalancerList />
        </HydrationBoundary>
      )}
    </section>
  );
}
