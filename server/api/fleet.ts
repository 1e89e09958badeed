/**
 * Fleet reads for the API and the pages: the shared monitor's snapshot (one provider poll per
 * load balancer, whatever the number of viewers), reshaped for one page.
 */
import type { FleetView, FreezeView, LbTrafficView, LoadBalancerRow, ProblemView } from "@/lib/views";
import type { LbState } from "@/lib/rollout/types";
import type { FleetSnapshot } from "@/server/monitor";
import { runtime, type Runtime } from "@/server/runtime";
import { activeFreeze } from "@/server/store/freezes";
import { ProviderError, asProviderError, type LoadBalancerSummary } from "@/server/providers/types";
import { NotFound } from "@/server/api/http";
import { activeRolloutRef, instanceSteps } from "@/server/api/rollouts";

/** The load balancer as the provider lists it; NotFound (404) when it has none by that name, CONFIG when it cannot be read. */
export async function summaryOf(lb: string): Promise<LoadBalancerSummary> {
  const monitor = runtime().monitor;
  const all = await monitor.listLoadBalancers();
  const found = all.find((l) => l.name === lb);
  if (!found) throw new NotFound(`No load balancer named "${lb}" (known: ${all.map((l) => l.name).join(", ") || "none"})`);
  if (found.problem) throw new ProviderError("CONFIG", found.problem);
  return found;
}

/**
 * The provider's configuration or access problem (or, given `lb`, that load balancer's own), or null
 * when the provider lists its load balancers. The listing is cached by the monitor, so pages may ask.
 */
export async function providerProblem(lb?: string): Promise<ProblemView | null> {
  try {
    const all = await runtime().monitor.listLoadBalancers();
    const own = lb === undefined ? undefined : all.find((l) => l.name === lb)?.problem;
    return own ? { code: "CONFIG", message: own } : null;
  } catch (err) {
    const provider = asProviderError(err);
    if (provider) return { code: provider.code, message: provider.message };
    return { code: "INTERNAL", message: `The load balancers could not be listed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** The latest snapshot; the very first read of a load balancer waits for its first refresh. */
export async function readSnapshot(lb: string): Promise<FleetSnapshot> {
  const monitor = runtime().monitor;
  const s = monitor.snapshot(lb);
  return s.at === null ? monitor.freshSnapshot(lb) : s;
}

function trafficOf(lb: string, s: FleetSnapshot): LbTrafficView | null {
  const t = s.traffic;
  if (!t) return null;
  const view: LbTrafficView = { lb, at: t.at, requests: t.requests, ok: t.ok, failed: t.failed, failuresByKind: t.failuresByKind };
  if (t.ratePerSec !== undefined) view.ratePerSec = t.ratePerSec;
  return view;
}

export async function loadBalancerRows(): Promise<LoadBalancerRow[]> {
  const monitor = runtime().monitor;
  const lbs = await monitor.listLoadBalancers();
  return Promise.all(
    lbs.map(async (lb) => {
      // Nothing to read for a load balancer the provider cannot show: its row carries the reason.
      if (lb.problem) return { ...lb, counts: {}, total: 0, versions: [], activeRollout: await activeRolloutRef(lb.name), traffic: null, error: lb.problem };
      const [s, active] = await Promise.all([readSnapshot(lb.name), activeRolloutRef(lb.name)]);
      const counts: Partial<Record<LbState, number>> = {};
      const versions = new Map<string | null, number>();
      for (const i of s.instances) {
        counts[i.state] = (counts[i.state] ?? 0) + 1;
        versions.set(i.version, (versions.get(i.version) ?? 0) + 1);
      }
      const row: LoadBalancerRow = {
        ...lb,
        counts,
        total: s.instances.length,
        versions: [...versions].map(([version, count]) => ({ version, count })).sort((a, b) => b.count - a.count),
        activeRollout: active,
        traffic: trafficOf(lb.name, s),
      };
      if (s.lastError) row.error = s.lastError.message;
      return row;
    }),
  );
}

export async function fleetView(lb: string): Promise<FleetView> {
  const summary = await summaryOf(lb);
  const [s, active] = await Promise.all([readSnapshot(lb), activeRolloutRef(lb)]);
  const steps = active ? instanceSteps(active.id) : {};
  const view: FleetView = {
    lb: summary,
    at: s.at ?? Date.now(),
    instances: s.instances.map((i) => {
      const step = steps[i.id];
      return step ? { ...i, rollout: step } : i;
    }),
    activeRollout: active,
  };
  if (s.lastError) view.error = s.lastError.message;
  return view;
}

export async function lbTraffic(lb: string): Promise<LbTrafficView | null> {
  await summaryOf(lb);
  return trafficOf(lb, await readSnapshot(lb));
}

/** The deploy freeze in force on `lb` now, as the fleet page shows it. */
export function freezeOf(lb: string, rt: Runtime = runtime()): FreezeView | null {
  const f = activeFreeze(rt.store.db, lb);
  return f ? { lb: f.lb, reason: f.reason, endsAt: f.endsAt, createdBy: f.createdBy, createdAt: f.createdAt } : null;
}
