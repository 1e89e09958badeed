/**
 * The balancer's own process, started by the fleet supervisor (server/fleet/main.ts). It runs apart
 * from the supervisor so hooks, the control API and the traffic generator never slow the proxy.
 * Controlled over IPC; exits when the supervisor disappears.
 */
import { Balancer, type BackendSpec } from "./balancer";
import { serveIpc } from "./ipc";
import type { HealthCheckSettings } from "./health";

const balancer = new Balancer({
  port: Number(process.env.ROTOR_LB_PORT ?? 8080),
  host: "127.0.0.1",
  drainTimeoutMs: Number(process.env.ROTOR_DRAIN_TIMEOUT_MS ?? 30_000),
  healthCheck: process.env.ROTOR_HEALTH_CHECK ? (JSON.parse(process.env.ROTOR_HEALTH_CHECK) as Partial<HealthCheckSettings>) : undefined,
});

serveIpc({
  upsert: (specs: BackendSpec[]) => specs.forEach((s) => balancer.upsert(s)),
  register: (ids: string[]) => balancer.register(ids),
  deregister: ({ ids, holdMs }: { ids: string[]; holdMs?: Record<string, number> }) => balancer.deregister(ids, (id) => holdMs?.[id]),
  remove: (ids: string[]) => ids.forEach((id) => balancer.remove(id)),
  healthFault: ({ id, failing }: { id: string; failing: boolean }) => balancer.setHealthFault(id, failing),
  settings: (s: { drainTimeoutMs?: number; healthCheck?: Partial<HealthCheckSettings> }) => {
    balancer.setSettings(s);
    return { drainTimeoutMs: balancer.drainTimeoutMs, healthCheck: balancer.healthCheck };
  },
  describe: () => ({ backends: balancer.describe(), totals: balancer.getTotals(), drainTimeoutMs: balancer.drainTimeoutMs, healthCheck: balancer.healthCheck }),
  reset: () => balancer.resetCounters(),
  stats: (ids?: string[]) => balancer.stats(process.env.ROTOR_LB_NAME ?? "local", ids),
});

async function shutdown(code: number) {
  await balancer.close().catch(() => undefined);
  process.exit(code);
}
process.on("disconnect", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));

balancer
  .listen()
  .then((port) => {
    process.stdout.write(`rotor-lb ${process.env.ROTOR_LB_NAME ?? "local"}: listening on 127.0.0.1:${port}\n`);
    process.send?.({ type: "listening", port });
  })
  .catch((err: unknown) => {
    process.stderr.write(`rotor-lb ${process.env.ROTOR_LB_NAME ?? "local"}: cannot listen: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
