/**
 * The read API answers a provider it cannot read with the problem's code and status, never INTERNAL:
 * CONFIG 500, AUTH 502, UNAVAILABLE 503 (lib/result.ts). Route handlers called as Next calls them
 * (a real Request, a viewer's bearer token) against a temp data dir.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InstanceView, LoadBalancerSummary } from "@/lib/fleet";
import { GET as listRoute } from "@/app/api/load-balancers/route";
import { GET as instancesRoute } from "@/app/api/load-balancers/[name]/instances/route";
import { authDb } from "@/server/auth/db";
import { createApiToken } from "@/server/auth/tokens";
import { tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";
import { providerProblem } from "@/server/api/fleet";
import { ProviderError, type LoadBalancerProvider } from "@/server/providers/types";
import { createRuntime, setRuntime, type Runtime } from "@/server/runtime";

const oneInstance: InstanceView[] = [{ id: "i-1", zone: "a", state: "in-service", description: "In service", inFlight: null, version: "v1" }];

function provider(list: () => Promise<LoadBalancerSummary[]>): LoadBalancerProvider {
  return {
    name: "aws",
    memberships: async (ids) => Object.fromEntries(ids.map((id) => [id, []])),
    listLoadBalancers: list,
    describeInstances: async (lb) => {
      if (lb !== "web") throw new ProviderError("CONFIG", `no ${lb}`);
      return oneInstance;
    },
    drainTimeoutMs: async () => 1_000,
    deregister: async () => {},
    register: async () => {},
    runHook: async () => [],
    trafficStats: async () => null,
  };
}

let env: TempEnv;
let rt: Runtime | null = null;
let viewer: string;

beforeEach(async () => {
  env = await tempEnv();
  viewer = createApiToken(authDb(), { name: "dash", role: "viewer" }, "amy").token;
});
afterEach(async () => {
  await rt?.close();
  rt = null;
  env.cleanup();
});

function use(options: Parameters<typeof createRuntime>[0]) {
  rt = createRuntime({ dataDir: env.dir, ...options });
  setRuntime(rt);
}

const get = (path: string) => new Request(`http://127.0.0.1:3000${path}`, { headers: { authorization: `Bearer ${viewer}` } });
const named = (name: string) => ({ params: Promise.resolve({ name }) });

/** An error as a provider built in another bundle of the same server throws it: same name and code, another class. */
function foreignProviderError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: "ProviderError", code, transient: false });
}

describe("GET /api/load-balancers when the provider cannot be read", () => {
  it.each([
    ["CONFIG", 500],
    ["AUTH", 502],
    ["UNAVAILABLE", 503],
    ["THROTTLED", 503],
    ["TIMEOUT", 504],
  ] as const)("%s → %i with the provider's sentence", async (code, status) => {
    use({ provider: provider(async () => Promise.reject(new ProviderError(code, `DescribeLoadBalancers failed: ${code} sentence`))) });
    const res = await listRoute(get("/api/load-balancers"));
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ code, message: `DescribeLoadBalancers failed: ${code} sentence` });
  });

  it("knows a ProviderError thrown by another copy of the class (the engine's bundle), instead of answering INTERNAL", async () => {
    use({ provider: provider(async () => Promise.reject(foreignProviderError("AUTH", "AWS refused permission elasticloadbalancing:DescribeLoadBalancers"))) });
    const res = await listRoute(get("/api/load-balancers"));
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: "AUTH", message: expect.stringContaining("elasticloadbalancing:DescribeLoadBalancers") });
  });

  it("answers a bad provider configuration as CONFIG naming the variable", async () => {
    use({ env: { ...process.env, ROTOR_PROVIDER: "aws", ROTOR_AWS_MAX_ATTEMPTS: "99" } });
    const res = await listRoute(get("/api/load-balancers"));
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: "CONFIG", message: expect.stringContaining("ROTOR_AWS_MAX_ATTEMPTS") });
    expect(await providerProblem()).toMatchObject({ code: "CONFIG", message: expect.stringContaining("ROTOR_AWS_MAX_ATTEMPTS") });
  });
});

describe("one load balancer with a problem affects only itself", () => {
  const sentence = "ROTOR_AWS_LOAD_BALANCERS names nope, which AWS does not have: correct the name or remove it from ROTOR_AWS_LOAD_BALANCERS.";
  beforeEach(() => {
    use({
      provider: provider(async () => [
        { name: "web", provider: "aws", kind: "classic", drainTimeoutMs: 1_000 },
        { name: "nope", provider: "aws", kind: "classic", drainTimeoutMs: 0, problem: sentence },
      ]),
    });
  });

  it("lists both: the valid one with its instances, the other with its sentence", async () => {
    const res = await listRoute(get("/api/load-balancers"));
    expect(res.status).toBe(200);
    const rows = (await res.json()) as Array<{ name: string; total: number; error?: string }>;
    expect(rows.find((r) => r.name === "web")).toMatchObject({ total: 1 });
    expect(rows.find((r) => r.name === "web")?.error).toBeUndefined();
    expect(rows.find((r) => r.name === "nope")).toMatchObject({ total: 0, error: sentence });
  });

  it("reads the valid one's fleet; the other answers CONFIG with the sentence", async () => {
    expect((await instancesRoute(get("/api/load-balancers/web/instances"), named("web"))).status).toBe(200);
    const res = await instancesRoute(get("/api/load-balancers/nope/instances"), named("nope"));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ code: "CONFIG", message: sentence });
    expect(await providerProblem("nope")).toEqual({ code: "CONFIG", message: sentence });
    expect(await providerProblem("web")).toBeNull();
    expect(await providerProblem()).toBeNull();
  });
});
