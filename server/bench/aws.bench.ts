/**
 * AWS API calls per refresh of a load balancer's instances, counted against moto with SDK middleware
 * (every HTTP attempt counts), for a fleet of 10 and of 1,000 instances behind a Classic ELB and a
 * target group. "Refresh" is the worst case a poll meets during a rollout: two instances deregistered
 * and the EC2 cache cold. The warm figure is the steady poll (EC2 facts cached).
 *
 * `ssm_calls_per_poll_50`: SSM calls per poll while a hook runs on a batch of 50 instances (goal ≤ 2;
 * one GetCommandInvocation per instance per poll made it 50 before). The hook is run by the SSM shim
 * in front of moto (3 s); a poll is a burst of polling calls (ListCommandInvocations,
 * GetCommandInvocation) with less than 100 ms between them.
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

const POLLING = new Set(["ssm:ListCommandInvocations", "ssm:GetCommandInvocation"]);

async function ssmPolling(moto: MotoServer): Promise<{ perPoll: number; polls: number; total: number }> {
  await moto.reset();
  const estate = await createEstate(moto, { instances: 50, classic: "bench-ssm", targetGroup: "bench-ssm-tg" });
  moto.ssm.hooks = () => ({ durationMs: 3_000 });
  const { provider, calls } = motoProvider(moto, { ssm: { pollIntervalMs: 250 } });
  const seen: { op: string; at: number }[] = [];
  const push = calls.push.bind(calls);
  calls.push = (...items: string[]) => {
    for (const op of items) seen.push({ op, at: performance.now() });
    return push(...items);
  };
  try {
    const results = await provider.runHook(estate.classic, estate.ids, "deploy", { version: "2.0.0" }, { timeoutMs: 60_000 });
    const failed = results.filter((r) => !r.ok);
    if (results.length !== 50 || failed.length > 0) throw new Error(`ssm bench: hook failed on ${failed.length} of ${results.length} instances: ${failed[0]?.outputTail ?? ""}`);
    const polling = seen.filter((c) => POLLING.has(c.op));
    const bursts: number[] = [];
    let last = -Infinity;
    for (const c of polling) {
      if (c.at - last >= 100) bursts.push(0);
      bursts[bursts.length - 1] = (bursts.at(-1) ?? 0) + 1;
      last = c.at;
    }
    if (bursts.length < 2) throw new Error(`ssm bench: only ${bursts.length} polls seen during a 3 s hook`);
    const total = seen.filter((c) => c.op.startsWith("ssm:")).length;
    console.error(`aws bench: 50-instance hook of 3 s: ${bursts.length} polls of [${bursts.join(", ")}] polling calls; ${total} SSM calls in all (${[...new Set(seen.map((c) => c.op))].join(", ")})`);
    return { perPoll: Math.max(...bursts), polls: bursts.length, total };
  } finally {
    await provider.close();
  }
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
    const ssm = await ssmPolling(moto);
    figures.ssm_calls_per_poll_50 = ssm.perPoll;
    figures.ssm_calls_per_hook_50 = ssm.total;
    console.error(`aws bench: ssm_calls_per_poll_50 ${ssm.perPoll} (was 50: one GetCommandInvocation per instance per poll, not measurable any more)`);
    return figures;
  } finally {
    await moto.stop();
  }
}
