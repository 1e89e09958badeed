/**
 * AWS API calls per refresh of a load balancer's instances, counted against moto with SDK middleware
 * (every HTTP attempt counts), for a fleet of 10 and of 1,000 instances behind a Classic ELB and a
 * target group. "Refresh" is the worst case a poll meets during a rollout: two instances deregistered
 * and the EC2 cache cold. The warm figure is the steady poll (EC2 facts cached).
 */
import { motoProvider, createEstate } from "@/server/providers/aws/__tests__/fixture";
import { motoAvailable, startMoto, type MotoServer } from "@/server/testing/moto";

type Figures = Record<string, number>;

async function measure(moto: MotoServer, size: number): Promise<{ cold: number; warm: number; detail: string[] }> {
  await moto.reset();
  const estate = await createEstate(moto, { instances: size, classic: `bench-${size}`, targetGroup: `bench-tg-${size}` });
  const detail: string[] = [];
  let cold = 0;
  let warm = 0;
  for (const lb of [estate.classic, estate.targetGroup]) {
    // The estate has no version tags: the version hook's background command (one per ≤50 instances,
    // not per refresh) would land in these counts, so this figure measures the refresh alone.
    const { provider, calls } = motoProvider(moto, { versionHook: false, cache: { minRefreshMs: 0, ec2TtlMs: 60_000, attributesTtlMs: 60_000 } });
    try {
      await provider.listLoadBalancers();
      await provider.deregister(lb, estate.ids.slice(0, 2));
      calls.length = 0;
      const views = await provider.describeInstances(lb);
      if (views.length !== size) throw new Error(`${lb}: expected ${size} instances, saw ${views.length}`);
      const coldCalls = [...calls];
      calls.length = 0;
      await provider.describeInstances(lb);
      const warmCalls = [...calls];
      cold = Math.max(cold, coldCalls.length);
      warm = Math.max(warm, warmCalls.length);
      detail.push(`${lb} (${size} instances): cold ${coldCalls.length} [${coldCalls.join(", ")}], warm ${warmCalls.length} [${warmCalls.join(", ")}]`);
    } finally {
      await provider.close();
    }
  }
  return { cold, warm, detail };
}

export async function run(): Promise<Figures> {
  if (!motoAvailable()) throw new Error("moto is not installed (python3 -m moto.server); .ci/run installs it");
  const moto = await startMoto();
  try {
    const figures: Figures = {};
    for (const size of [10, 1_000]) {
      const started = Date.now();
      const { cold, warm, detail } = await measure(moto, size);
      for (const line of detail) console.error(`aws bench: ${line}`);
      console.error(`aws bench: ${size} instances measured in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      figures[`aws_calls_per_refresh_${size}`] = cold;
      figures[`aws_calls_per_refresh_warm_${size}`] = warm;
    }
    return figures;
  } finally {
    await moto.stop();
  }
}
