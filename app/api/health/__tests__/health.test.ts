/** GET /api/health as Next calls it: ready while the store answers, the engine's state, 503 once the store is gone. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GET } from "../route";
import { tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";
import type { LoadBalancerProvider } from "@/server/providers/types";
import { createRuntime, setRuntime, type Runtime } from "@/server/runtime";

const emptyLb: LoadBalancerProvider = {
  name: "local",
  memberships: async () => ({}),
  listLoadBalancers: async () => [],
  describeInstances: async () => [],
  drainTimeoutMs: async () => 1_000,
  deregister: async () => {},
  register: async () => {},
  runHook: async () => [],
  trafficStats: async () => null,
};

let env: TempEnv;
let rt: Runtime;

beforeEach(async () => {
  env = await tempEnv();
  rt = createRuntime({ dataDir: env.dir, provider: emptyLb, engine: { pollMs: 50 } });
  setRuntime(rt);
});
afterEach(async () => {
  setRuntime(null);
  await rt.close().catch(() => undefined);
  env.cleanup();
});

describe("GET /api/health", () => {
  it("is ready with the store's schema version; says whether this process's engine runs and holds the lease", async () => {
    const before = GET();
    expect(before.status).toBe(200);
    expect(before.headers.get("cache-control")).toBe("no-store");
    const body = await before.json();
    expect(body).toMatchObject({ ok: true, ready: true, store: { kind: "sqlite", ok: true }, engine: { running: false, rollouts: 0, leases: 0 } });
    expect(body.store.schemaVersion).toBeGreaterThanOrEqual(5);

    rt.startEngine();
    await expect.poll(async () => (await GET().json()).engine).toEqual({ running: true, rollouts: 0, leases: 0, leaseMs: 6000, renewMs: 2000 });
  });

  it("answers 503 with the reason once the store does not answer", async () => {
    rt.store.close();
    const res = GET();
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, ready: false, store: { ok: false, error: expect.stringMatching(/^the store does not answer: /) } });
  });
});
