/**
 * The two-person rule compares people: a token acts for the human who created it, tokens of a
 * disabled operator stop at once, and a rollout that could otherwise finish without a second person
 * (automatic approval, one batch) waits for one before anything leaves rotation.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { FleetMonitor } from "@/server/monitor";
import { launchRollout } from "@/server/commands/launch";
import { ChangeBus } from "@/server/bus";
import type { InstanceView, LoadBalancerProvider } from "@/server/providers/types";
import { Journals } from "@/server/store/journal";
import { rolloutDetail } from "@/server/api/rollouts";
import { addOperator, disableOperator } from "../accounts";
import { authDb } from "../db";
import { authorizeRolloutEvent } from "../rollout-access";
import { createApiToken, humanOf, verifyApiToken } from "../tokens";
import { checkTwoPersonRule } from "../two-person";
import { tempEnv, type TempEnv } from "./helpers";

/** Four in-service instances; launch only reads them (the engine, not running here, would act). */
function provider(): LoadBalancerProvider {
  const instances: InstanceView[] = [1, 2, 3, 4].map((n) => ({ id: `i-${n}`, zone: "a", state: "in-service", description: "ok", inFlight: 0, version: "v1" }));
  return {
    name: "local",
    memberships: async (ids: string[]) => Object.fromEntries(ids.map((id) => [id, ["prod"]])),
  listLoadBalancers: async () => [{ name: "prod", provider: "local", kind: "local", drainTimeoutMs: 1000 }],
    describeInstances: async () => instances.map((i) => ({ ...i })),
    drainTimeoutMs: async () => 1000,
    deregister: async () => {},
    register: async () => {},
    runHook: async () => [],
    trafficStats: async () => null,
  } as LoadBalancerProvider;
}

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  let monitor: FleetMonitor;
  beforeEach(async () => {
    env = await tempEnv([], kind);
    monitor = new FleetMonitor(provider(), { fastMs: 50, activeMs: 50, idleMs: 1000 });
  });
  afterEach(() => {
    monitor.stop();
    env.cleanup();
  });

  const launch = (mode: { kind: "manual" } | { kind: "auto"; bakeMs: number }, batch: number, actor = "alice") =>
    launchRollout({ store: env.store, monitor, bus: new ChangeBus() }, { lb: "prod", plan: { version: "v2", batchSize: { unit: "count", value: batch }, minHealthy: { unit: "count", value: 0 } }, mode }, actor);

  describe("a token acts for its creator", () => {
    it("records api:<name> for <creator>, and the rule compares the humans", () => {
      const db = authDb();
      const { token } = createApiToken(db, { name: "ci", role: "operator" }, "alice");
      expect(verifyApiToken(db, token)?.name).toBe("api:ci for alice");
      expect(humanOf("api:ci for alice")).toBe("alice");
      expect(humanOf("bob")).toBe("bob");
      const on = new Set(["prod"]);
      const r = { id: "r-1", lb: "prod", createdBy: "alice" };
      expect(checkTwoPersonRule(r, "api:ci for alice", { type: "approve" }, on)).toMatchObject({ ok: false, code: "TWO_PERSON_RULE" });
      expect(checkTwoPersonRule({ ...r, createdBy: "api:ci for alice" }, "alice", { type: "approve" }, on)).toMatchObject({ ok: false });
      expect(checkTwoPersonRule({ ...r, createdBy: "api:ci for alice" }, "api:deploy for bob", { type: "continue-now" }, on)).toEqual({ ok: true });
    });

    it("a disabled operator's tokens stop working at once", async () => {
      const db = authDb();
      await addOperator(db, { name: "carol", role: "admin", password: "carol-password-long" }, "system");
      const { token } = createApiToken(db, { name: "nightly", role: "operator" }, "carol");
      expect(verifyApiToken(db, token)).not.toBeNull();
      expect(disableOperator(db, "carol")).toBe(true);
      expect(verifyApiToken(db, token)).toBeNull();
    });
  });

  describe("launch under the two-person rule", () => {
    beforeEach(() => {
      process.env.ROTOR_TWO_PERSON_LBS = "prod";
    });

    const state = (id: string) => new Journals(env.store).get(id)!.state;

    it("automatic approval: batch 1 waits for a second person, nothing deregistered; then the starter cannot approve and another can", async () => {
      const r = await launch({ kind: "auto", bakeMs: 1000 }, 2);
      if (!r.ok) throw new Error(r.message);
      const s = state(r.data.id);
      expect(s.phase).toBe("awaiting-approval");
      expect(s.outstanding).toEqual([expect.objectContaining({ type: "awaitApproval", batch: 0 })]);
      expect(s.outstanding.some((e) => e.type === "deregister")).toBe(false);
      expect((await rolloutDetail(r.data.id)).view.message).toBe("Waiting for a second operator to approve batch 1 of 2 (alice started this rollout and cannot approve it)");

      const { token } = createApiToken(authDb(), { name: "mine", role: "operator" }, "alice");
      const viaToken = verifyApiToken(authDb(), token)!;
      expect(authorizeRolloutEvent(env.store, viaToken, r.data.id, { type: "approve", batch: 0 })).toMatchObject({ ok: false, code: "TWO_PERSON_RULE" });
      expect(authorizeRolloutEvent(env.store, { name: "bob", role: "operator" }, r.data.id, { type: "approve", batch: 0 })).toEqual({ ok: true });
    });

    it("a one-batch plan under manual approval also waits before anything is deregistered", async () => {
      const r = await launch({ kind: "manual" }, 4);
      if (!r.ok) throw new Error(r.message);
      expect(state(r.data.id)).toMatchObject({ phase: "awaiting-approval", outstanding: [expect.objectContaining({ type: "awaitApproval", batch: 0 })] });
    });

    it("a manual plan of several batches starts batch 1 at once (batch 2 needs the second person)", async () => {
      const r = await launch({ kind: "manual" }, 2);
      if (!r.ok) throw new Error(r.message);
      expect(state(r.data.id).outstanding).toEqual([expect.objectContaining({ type: "deregister", batch: 0 })]);
    });

    it("off the rule, automatic approval starts at once", async () => {
      process.env.ROTOR_TWO_PERSON_LBS = "other";
      const r = await launch({ kind: "auto", bakeMs: 1000 }, 2);
      if (!r.ok) throw new Error(r.message);
      expect(state(r.data.id).outstanding).toEqual([expect.objectContaining({ type: "deregister", batch: 0 })]);
    });
  });
});
