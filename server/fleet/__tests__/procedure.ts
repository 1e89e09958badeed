/** Shared by the fleet's integration tests: polling and the per-instance procedure, through the provider. */
import type { InstanceView, LoadBalancerProvider } from "@/server/providers/types";
import type { HookName } from "@/lib/rollout/types";

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function instance(p: LoadBalancerProvider, lb: string, id: string): Promise<InstanceView> {
  const found = (await p.describeInstances(lb)).find((i) => i.id === id);
  if (!found) throw new Error(`no instance ${id}`);
  return found;
}

export async function hook(p: LoadBalancerProvider, lb: string, id: string, name: HookName, version: string) {
  const [r] = await p.runHook(lb, [id], name, { version }, { timeoutMs: 30_000 });
  if (!r?.ok) throw new Error(`${name} on ${id} failed (exit ${r?.exitCode}):\n${r?.outputTail}`);
  return r;
}

/** The whole per-instance procedure: deregister → drain → stop → deploy → start → verify → register → in service. */
export async function rollInstance(p: LoadBalancerProvider, lb: string, id: string, version: string): Promise<void> {
  await p.deregister(lb, [id]);
  await waitFor(`${id} drained`, async () => {
    const i = await instance(p, lb, id);
    return i.state === "out-of-service" && i.inFlight === 0;
  });
  for (const name of ["stop", "deploy", "start", "verify"] as const) await hook(p, lb, id, name, version);
  await p.register(lb, [id]);
  await waitFor(`${id} in service`, async () => (await instance(p, lb, id)).state === "in-service");
}
