import { Forbidden } from "@/components/auth/forbidden";
import { pageOperator } from "@/server/auth/guard";
import { HydrationBoundary } from "@tanstack/react-query";
import type { Metadata } from "next";
import { queryKeys } from "@/components/queries";
import { RolloutHistory } from "@/components/rollout/rollout-history";
import { prefetch } from "@/server/api/prefetch";
import { rolloutList } from "@/server/api/rollouts";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Rollouts" };

export default async function RolloutsPage() {
  const auth = await pageOperator("read", "/rollouts");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const state = await prefetch([[queryKeys.rolloutList, rolloutList]]);
  return (
    <section aria-labelledby="history-heading" className="space-y-4">
      <h1 id="history-heading" className="text-xl font-semibold">
        Rollouts
      </h1>
      <HydrationBoundary state={state}>
        <RolloutHistory />
      </HydrationBoundary>
    </section>
  );
}
