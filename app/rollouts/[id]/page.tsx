import { Forbidden } from "@/components/auth/forbidden";
import { pageOperator } from "@/server/auth/guard";
import { HydrationBoundary } from "@tanstack/react-query";
import type { Metadata } from "next";
import { operatorEventAction } from "@/app/actions/rollout";
import { queryKeys } from "@/components/queries";
import { RolloutView } from "@/components/rollout/rollout-view";
import { prefetch, readNow } from "@/server/api/prefetch";
import { rolloutDetail } from "@/server/api/rollouts";
import { providerProblem } from "@/server/api/fleet";
import { ProviderProblem } from "@/components/ui/provider-problem";
import { readOrNotFound } from "@/app/page-read";

export const dynamic = "force-dynamic";

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Rollout ${(await params).id}` };
}

export default async function RolloutPage({ params }: Props) {
  const { id } = await params;
  const auth = await pageOperator("read", `/rollouts/${encodeURIComponent(id)}`);
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const detail = await readNow(() => readOrNotFound(() => rolloutDetail(id)));
  // The rollout's record reads without the provider; what it cannot do without one is said above it.
  const problem = await providerProblem(detail.value.summary.lb);
  const state = await prefetch([[queryKeys.rollout(id), detail]]);
  return (
    <HydrationBoundary state={state}>
      <div className="space-y-4">
        {problem && <ProviderProblem problem={problem} />}
        <RolloutView id={id} act={operatorEventAction} />
      </div>
    </HydrationBoundary>
  );
}
