/**
 * GET /api/load-balancers/{lb}/replace-preview: the query is checked before any provider call (400
 * with the field's sentence), a provider without Auto Scaling groups answers its one sentence, and a
 * group is judged by the same readiness check Start runs: the capacity at each step, or every refusal.
 * Route handlers called as Next calls them (a real Request, a viewer's bearer token).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InstanceView } from "@/lib/fleet";
import type { ReplacePreviewAnswer } from "@/lib/rollout/replace-preview";
import type { AutoScalingGroupView, ReplaceSurveyResult } from "@/lib/rollout/replace-check";
import { GET as previewRoute } from "@/app/api/load-balancers/[name]/replace-preview/route";
import { authDb } from "@/server/auth/db";
import { createApiToken } from "@/server/auth/tokens";
import { tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";
import { ProviderError, type LoadBalancerProvider, type ScalingGroups } from "@/server/providers/types";
import { createRuntime, setRuntime, type Runtime } from "@/server/runtime";

const ids = ["i-1", "i-2", "i-3", "i-4", "i-5"];
const fleet: InstanceView[] = ids.map((id) => ({ id, zone: "a", state: "in-service", description: "In service", inFlight: null, version: "v1" }));
const group: AutoScalingGroupView = {
  name: "web-asg",
  min: 1,
  desired: 5,
  max: 7,
  source: { kind: "launch-template", id: "lt-1", name: "web-lt", version: "3" },
  instances: ids.map((id) => ({ id, lifecycleState: "InService", healthStatus: "Healthy", protectedFromScaleIn: false, launchTemplateVersion: "3" })),
  suspended: [],
  loadBalancerNames: ["web"],
  targetGroupArns: [],
  lifecycleHooks: [],
};

let surveyed: string[] = [];
function provider(groups: boolean): LoadBalancerProvider {
  const g: Partial<ScalingGroups> = {
    survey: async (lb, target): Promise<ReplaceSurveyResult> => {
      surveyed.push(`${lb} ${target}`);
      if (target === "9") throw new ProviderError("AUTH", "AWS refused permission autoscaling:DescribeAutoScalingGroups");
      return {
        check: { lb: { kind: "classic", rotorName: lb, name: lb }, lbInstanceIds: ids, groupOf: Object.fromEntries(ids.map((id) => [id, "web-asg"])), group, target: { kind: "version", launchTemplateId: "lt-1", version: Number(target) } },
        fromLaunch: "3",
        toLaunch: target,
      };
    },
  };
  return {
    name: "aws",
    memberships: async (list) => Object.fromEntries(list.map((id) => [id, ["web"]])),
    listLoadBalancers: async () => [{ name: "web", provider: "aws", kind: "classic", drainTimeoutMs: 1_000 }],
    describeInstances: async () => fleet,
    drainTimeoutMs: async () => 1_000,
    deregister: async () => {},
    register: async () => {},
    runHook: async () => [],
    trafficStats: async () => null,
    ...(groups ? { groups: g as ScalingGroups } : {}),
  };
}

let env: TempEnv;
let rt: Runtime | null = null;
let viewer: string;
beforeEach(async () => {
  env = await tempEnv();
  surveyed = [];
  viewer = createApiToken(authDb(), { name: "dash", role: "viewer" }, "amy").token;
});
afterEach(async () => {
  await rt?.close();
  rt = null;
  env.cleanup();
});

function use(groups: boolean) {
  rt = createRuntime({ dataDir: env.dir, provider: provider(groups) });
  setRuntime(rt);
}
const preview = (query: string, lb = "web") =>
  previewRoute(new Request(`http://127.0.0.1:3000/api/load-balancers/${lb}/replace-preview?${query}`, { headers: { authorization: `Bearer ${viewer}` } }), { params: Promise.resolve({ name: lb }) });

describe("GET /api/load-balancers/{lb}/replace-preview", () => {
  it.each([
    ["no target", "batchSize=2&surge=2", "target", "Give the launch target (or the version)"],
    ["a surge that is not a number", "target=4&batchSize=2&surge=two", "surge", "Surge must be a number"],
    ["a negative surge", "target=4&batchSize=2&surge=-1", "surge", "Surge cannot be negative"],
    ["a batch size that is not a number", "target=4&batchSize=x&surge=0", "batchSize.value", "Batch size must be a number"],
    ["a batch unit that is neither", "target=4&batchSize=2&batchUnit=pct&surge=0", "batchSize.unit", "Batch size: choose count or percent"],
  ])("refuses %s with 400 and the field's sentence, before asking the provider", async (_name, query, field, message) => {
    use(true);
    const res = await preview(query);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; fieldErrors: Record<string, string> };
    expect(body.code).toBe("INVALID_INPUT");
    expect(body.fieldErrors[field]).toBe(message);
    expect(surveyed).toEqual([]);
  });

  it("answers the group, its capacity at each step and the launch versions", async () => {
    use(true);
    const res = await preview("target=4&batchSize=2&surge=2");
    expect(res.status).toBe(200);
    const a = (await res.json()) as ReplacePreviewAnswer;
    expect(a).toMatchObject({ ok: true, refusals: [], fromLaunch: "3", toLaunch: "4", batchSize: 2 });
    expect(a.preview).toMatchObject({ group: "web-asg", min: 1, desired: 5, max: 7, from: "web-lt version 3", to: "version 4", replace: ids });
    expect(a.preview?.steps.map((s) => [s.replace, s.surge, s.peakDesired, s.lowestInService, s.endDesired])).toEqual([
      [2, 2, 7, 5, 5],
      [2, 2, 7, 5, 5],
      [1, 1, 6, 5, 5],
    ]);
    expect(surveyed).toEqual(["web 4"]);
  });

  it("answers every refusal with its sentence: a surge above max, a minimum healthy the batches break", async () => {
    use(true);
    const a = (await (await preview("target=4&batchSize=3&surge=3&minHealthy=100&minHealthyUnit=percent")).json()) as ReplacePreviewAnswer;
    expect(a.ok).toBe(false);
    expect(a.refusals.map((r) => r.code)).toEqual(["SURGE_ABOVE_MAX"]);
    expect(a.refusals[0]?.message).toBe("a surge of 3 above desired 5 needs a max of at least 8, and web-asg's max is 7: raise max to 8 or lower the surge to 2");
    const low = (await (await preview("target=4&batchSize=2&surge=0&minHealthy=4")).json()) as ReplacePreviewAnswer;
    expect(low.refusals.map((r) => r.code)).toEqual(["BELOW_MIN_HEALTHY"]);
    // A surge above the batch size is the options' own refusal, in the preview, not a 400.
    const over = (await (await preview("target=4&batchSize=1&surge=2")).json()) as ReplacePreviewAnswer;
    expect(over).toMatchObject({ ok: false, preview: null, refusals: [{ code: "INVALID_INPUT", message: expect.stringContaining("Surge cannot exceed the batch size") }] });
  });

  it("a provider without Auto Scaling groups answers one clear sentence", async () => {
    use(false);
    const a = (await (await preview("target=4&batchSize=2&surge=0")).json()) as ReplacePreviewAnswer;
    expect(a).toMatchObject({ ok: false, preview: null, refusals: [{ code: "STRATEGY_UNSUPPORTED", message: "The aws provider cannot replace instances through an Auto Scaling group: use the in-place strategy" }] });
  });

  it("an unknown load balancer is 404; a survey the provider refuses keeps its code and sentence", async () => {
    use(true);
    expect((await preview("target=4&batchSize=2&surge=0", "nope")).status).toBe(404);
    const res = await preview("target=9&batchSize=2&surge=0");
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ code: "AUTH", message: "AWS refused permission autoscaling:DescribeAutoScalingGroups" });
  });
});
