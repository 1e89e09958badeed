/**
 * The automation API, called as Next would call it (a real Request) against a temp data dir, with
 * the real command pipeline behind it: refusals change nothing, the role and the two-person rule
 * hold, a revoked token stops working. Starting plans against a load balancer of four instances that
 * only answers reads (nothing here performs effects: no engine runs).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InstanceView } from "@/lib/fleet";
import { authDb } from "@/server/auth/db";
import { createSession } from "@/server/auth/sessions";
import { createApiToken, revokeApiToken } from "@/server/auth/tokens";
import { driveToApproval, seedRollout, tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";
import type { LoadBalancerProvider } from "@/server/providers/types";
import { createRuntime, setRuntime, type Runtime } from "@/server/runtime";
import { handleRolloutEvent, handleStartRollout } from "../rollout-commands";

const fourInService: InstanceView[] = [1, 2, 3, 4].map((n) => ({ id: `i-${n}`, zone: n % 2 ? "a" : "b", state: "in-service", description: "In service", inFlight: 0, version: "v1" }));
const readOnlyLb: LoadBalancerProvider = {
  name: "local",
  memberships: async (ids: string[]) => Object.fromEntries(ids.map((id) => [id, ["local"]])),
  listLoadBalancers: async () => [{ name: "local", provider: "local", kind: "local", drainTimeoutMs: 1_000 }],
  describeInstances: async () => fourInService,
  drainTimeoutMs: async () => 1_000,
  deregister: async () => {},
  register: async () => {},
  runHook: async () => [],
  trafficStats: async () => null,
};

let env: TempEnv;
let deps: Runtime;

beforeEach(async () => {
  env = await tempEnv();
  deps = createRuntime({ dataDir: env.dir, provider: readOnlyLb });
  setRuntime(deps);
});
afterEach(async () => {
  await deps.close();
  env.cleanup();
});

const startBody = { lb: "local", version: "v2", batchSize: { unit: "count", value: 2 } };

function post(url: string, body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`http://127.0.0.1:3000${url}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const params = (id: string) => ({ params: Promise.resolve({ id }) });
const token = (name: string, role: "viewer" | "operator" | "admin", creator = "amy") => createApiToken(authDb(), { name, role }, creator);
const counts = () => ({
  rollouts: (env.store.db.prepare("SELECT count(*) AS n FROM rollouts").get() as { n: number }).n,
  events: (env.store.db.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n,
});

describe("POST /api/rollouts", () => {
  it("refuses an unauthenticated start with 401 and changes nothing", async () => {
    const before = counts();
    for (const req of [
      post("/api/rollouts", startBody),
      post("/api/rollouts", startBody, { authorization: "Bearer rotor_not-a-real-token" }),
      post("/api/rollouts", startBody, { authorization: "Basic YWxpY2U6cHc=" }),
    ]) {
      const res = await handleStartRollout(req, deps);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    }
    expect(counts()).toEqual(before);
  });

  it("does not take the session cookie as a credential (no CSRF through route handlers)", async () => {
    const { token: cookie } = createSession(authDb(), { name: "admin-amy", role: "admin", source: "local" });
    const res = await handleStartRollout(post("/api/rollouts", startBody, { cookie: `rotor_session=${cookie}`, origin: "https://evil.example" }), deps);
    expect(res.status).toBe(401);
    expect(counts()).toEqual({ rollouts: 0, events: 0 });
  });

  it("refuses a viewer token (403) and a revoked token (401); starts with an operator token as api:<name>", async () => {
    const viewer = token("dash", "viewer").token;
    expect((await handleStartRollout(post("/api/rollouts", startBody, bearer(viewer)), deps)).status).toBe(403);
    const ci = token("ci", "operator");
    const res = await handleStartRollout(post("/api/rollouts", startBody, bearer(ci.token)), deps);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { ok: true; data: { id: string } };
    expect(res.headers.get("location")).toBe(`/api/rollouts/${body.data.id}`);
    expect(env.store.rollout(body.data.id)).toMatchObject({ input: expect.objectContaining({ lb: "local", version: "v2" }), createdBy: "api:ci for amy" });

    revokeApiToken(authDb(), ci.info.id, "amy");
    expect((await handleStartRollout(post("/api/rollouts", startBody, bearer(ci.token)), deps)).status).toBe(401);
    expect(counts().rollouts).toBe(1);
  });

  it("validates the body with lib's schema before anything reaches the engine", async () => {
    const ci = token("ci", "operator").token;
    const bad = await handleStartRollout(post("/api/rollouts", { ...startBody, version: "v2; rm -rf /" }, bearer(ci)), deps);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "INVALID_INPUT", fieldErrors: { version: expect.stringMatching(/Version must start with a letter or digit/) } });
    const notJson = new Request("http://127.0.0.1/api/rollouts", { method: "POST", headers: { ...bearer(ci), "content-type": "text/plain" }, body: "lb=local" });
    expect((await handleStartRollout(notJson, deps)).status).toBe(415);
    expect(counts()).toEqual({ rollouts: 0, events: 0 });
  });
});

describe("POST /api/rollouts/{id}/events", () => {
  it("refuses an unauthenticated event with 401 and changes nothing", async () => {
    const id = seedRollout(env.store, { createdBy: "alice" });
    driveToApproval(env.store, id);
    const before = counts();
    const res = await handleRolloutEvent(post(`/api/rollouts/${id}/events`, { type: "approve" }), params(id), deps);
    expect(res.status).toBe(401);
    expect(counts()).toEqual(before);
    expect(env.store.rollout(id)?.phase).toBe("awaiting-approval");
  });

  it("refuses a viewer's approve (403), keeps the attempt as a rejected event, and the rollout still waits", async () => {
    const id = seedRollout(env.store, { createdBy: "alice" });
    driveToApproval(env.store, id);
    const res = await handleRolloutEvent(post(`/api/rollouts/${id}/events`, { type: "approve" }, bearer(token("dash", "viewer").token)), params(id), deps);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: "FORBIDDEN" });
    const last = env.store.events(id).at(-1);
    expect(last).toMatchObject({ actor: "api:dash for amy", type: "approve", outcome: "rejected", reason: expect.stringMatching(/^FORBIDDEN/) });
    expect(env.store.rollout(id)?.phase).toBe("awaiting-approval");
  });

  it("with the two-person rule on, the starter's approve is refused and a second operator's succeeds", async () => {
    process.env.ROTOR_TWO_PERSON_LBS = "local";
    const ci = token("ci", "operator").token;
    const started = await handleStartRollout(post("/api/rollouts", startBody, bearer(ci)), deps);
    const { data } = (await started.json()) as { data: { id: string } };
    driveToApproval(env.store, data.id);

    const refused = await handleRolloutEvent(post(`/api/rollouts/${data.id}/events`, { type: "approve" }, bearer(ci)), params(data.id), deps);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: "TWO_PERSON_RULE", message: expect.stringMatching(/amy started rollout .* \(through api:ci for amy\)/) });
    expect(env.store.rollout(data.id)?.phase).toBe("awaiting-approval");

    // Another token of the same human is the same person: refused too.
    const sameHuman = token("release-bot", "operator").token;
    const again = await handleRolloutEvent(post(`/api/rollouts/${data.id}/events`, { type: "approve" }, bearer(sameHuman)), params(data.id), deps);
    expect(again.status).toBe(403);

    const other = token("zoe-bot", "operator", "zoe").token;
    const approved = await handleRolloutEvent(post(`/api/rollouts/${data.id}/events`, { type: "approve" }, bearer(other)), params(data.id), deps);
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ ok: true });
    expect(env.store.events(data.id).filter((e) => e.type === "approve").map((e) => [e.actor, e.outcome])).toEqual([
      ["api:ci for amy", "rejected"],
      ["api:release-bot for amy", "rejected"],
      ["api:zoe-bot for zoe", "applied"],
    ]);
    expect(env.store.rollout(data.id)?.phase).toBe("running");
  });

  it("the rule is per load balancer: off elsewhere, the starter may approve", async () => {
    process.env.ROTOR_TWO_PERSON_LBS = "prod";
    const ci = token("ci", "operator").token;
    const started = await handleStartRollout(post("/api/rollouts", startBody, bearer(ci)), deps);
    const { data } = (await started.json()) as { data: { id: string } };
    driveToApproval(env.store, data.id);
    const res = await handleRolloutEvent(post(`/api/rollouts/${data.id}/events`, { type: "approve" }, bearer(ci)), params(data.id), deps);
    expect(res.status).toBe(200);
  });

  it("answers 404 for an unknown rollout, 400 for a bad event or a mismatched id, 409 when the machine refuses", async () => {
    const op = token("ci", "operator").token;
    expect((await handleRolloutEvent(post("/api/rollouts/r-nope/events", { type: "pause" }, bearer(op)), params("r-nope"), deps)).status).toBe(404);
    const id = seedRollout(env.store, { createdBy: "alice" });
    expect((await handleRolloutEvent(post(`/api/rollouts/${id}/events`, { type: "explode" }, bearer(op)), params(id), deps)).status).toBe(400);
    expect((await handleRolloutEvent(post(`/api/rollouts/${id}/events`, { type: "pause", rolloutId: "r-other" }, bearer(op)), params(id), deps)).status).toBe(400);
    expect((await handleRolloutEvent(post(`/api/rollouts/${id}/events`, { type: "start" }, bearer(op)), params(id), deps)).status).toBe(400);
    const early = await handleRolloutEvent(post(`/api/rollouts/${id}/events`, { type: "resume" }, bearer(op)), params(id), deps);
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ ok: false, code: "NOT_ALLOWED_IN_PHASE" });
  });
});
