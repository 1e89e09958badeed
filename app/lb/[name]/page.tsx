import { Forbidden } from "@/components/auth/forbidden";
import { pageOperator } from "@/server/auth/guard";
import { HydrationBoundary } from "@tanstack/react-query";
import type { Metadata } from "next";
import { clearFaultsAction, injectFaultAction } from "@/app/actions/faults";
import { FaultPanel } from "@/components/fleet/fault-panel";
import { FleetHeader } from "@/components/fleet/fleet-header";
import { FleetTable } from "@/components/fleet/fleet-table";
import { FleetSummary } from "@/components/fleet/fleet-summary";
import { queryKeys } from "@/components/queries";
import { ProblemPage } from "@/components/ui/provider-problem";
import { fleetView, freezeOf, lbTraffic, providerProblem } from "@/server/api/fleet";
import { prefetch, readNow } from "@/server/api/prefetch";
import { FAULT_KINDS } from "@/server/fleet/protocol";
import { faultInjection } from "@/server/api/faults";
import { readOrNotFound } from "@/app/page-read";
import { freezeAction } from "@/app/actions/freeze";
import { FreezePanel } from "@/components/lb/freeze-panel";
import { can } from "@/server/auth/roles";

export const dynamic = "force-dynamic";

type Props = { params: Promise<{ name: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: (await params).name };
}

export default async function FleetPage({ params }: Props) {
  const { name } = await params;
  const auth = await pageOperator("read", `/lb/${encodeURIComponent(name)}`);
  if (!auth.ok) return <Forbidden message={auth.message} />;
  // A misconfigured provider, or this one name unknown to it: the sentence, not an error page.
  const problem = await providerProblem(name);
  if (problem) return <ProblemPage heading={<span className="font-mono">{name}</span>} problem={problem} />;
  const view = await readNow(() => readOrNotFound(() => fleetView(name)));
  const faults = faultInjection();
  const local = faults !== null;
  const state = await prefetch([
    [queryKeys.instances(name), view],
    [queryKeys.traffic(name), () => lbTraffic(name)],
    ...(faults ? ([[queryKeys.faults, () => faults.list()]] as const) : []),
  ]);
  return (
    <HydrationBoundary state={state}>
      <div className="space-y-4">
        <FleetHeader lb={name} />
        <FleetSummary lb={name} />
        <FreezePanel lb={name} freeze={freezeOf(name)} canManage={can(auth.operator.role, "lb.freeze")} action={freezeAction} />
        <FleetTable lb={name} />
        {local && <FaultPanel lb={name} kinds={FAULT_KINDS} inject={injectFaultAction} clear={clearFaultsAction} />}
      </div>
    </HydrationBoundary>
  );
}
