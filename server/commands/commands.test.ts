/**
 * The command pipeline on a temp data dir: every refusal is on record (the rollout's log, or the
 * audit trail when there is no rollout to keep it), and nothing changes before validation passes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "@/server/testing/stores";
import { auditRows } from "@/server/auth/audit";
import { authDb } from "@/server/auth/db";
import { seedRollout, tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";
import type { InstanceView } from "@/lib/fleet";
import type { LoadBalancerProvider } from "@/server/providers/types";
import { createRuntime, runtime, setRuntime } from "@/server/runtime";
import { runCommand } from "./index";

describe.each(STORE_KINDS)("on %s", (kind) => {
  let env: TempEnv;
  beforeEach(async () => {
    env = await tempEnv([], kind);
  });
  afterEach(() => env.cleanup());

  const refusals = () => auditRows(authDb(), { kind: "access", type: "access-refused" }).map((r) => [r.actor, (r.details as { action?: string }).action, r.reason?.split(":")[0]]);
  const count = (sql: string) => (env.store.db.prepare(sql).get() as { n: number }).n;

  describe("runCommand", () => {
    it("refuses an invalid start before anything changes, and audits it", async () => {
      const r = await runCommand(runtime(), { name: "alice", role: "operator" }, { type: "start-rollout", input: { lb: "local", version: "--force", batchSize: { unit: "count", value: 1 } } });
      expect(r).toMatchObject({ ok: false, code: "INVALID_INPUT", fieldErrors: { version: expect.any(String) } });
      expect(count("SELECT count(*) AS n FROM rollouts")).toBe(0);
      expect(refusals()).toEqual([["alice", "rollout.start", "INVALID_INPUT"]]);
    });

    it("refuses a viewer's start for its role, and audits it", async () => {
      const r = await runCommand(runtime(), { name: "vera", role: "viewer" }, { type: "start-rollout", input: { lb: "local", version: "2.0.0", batchSize: { unit: "count", value: 1 } } });
      expect(r).toMatchObject({ ok: false, code: "FORBIDDEN" });
      expect(refusals()).toEqual([["vera", "rollout.start", "FORBIDDEN"]]);
    });

    it("keeps a refused event of a known rollout in its log (not twice), and audits one that does not validate", async () => {
      const id = seedRollout(env.store, { createdBy: "alice" });
      const early = await runCommand(runtime(), { name: "bob", role: "operator" }, { type: "operator-event", rolloutId: id, event: { type: "resume" } });
      expect(early).toMatchObject({ ok: false, code: "NOT_ALLOWED_IN_PHASE" });
      expect(env.store.events(id).at(-1)).toMatchObject({ actor: "bob", type: "resume", outcome: "rejected" });
      const junk = await runCommand(runtime(), { name: "bob", role: "operator" }, { type: "operator-event", rolloutId: id, event: { type: "explode" } });
      expect(junk).toMatchObject({ ok: false, code: "INVALID_INPUT" });
      expect(refusals()).toEqual([["bob", "rollout.event", "INVALID_INPUT"]]);
    });
  });

  /** Two load balancers sharing i-3 and i-4 (as a Classic ELB and a target group can); reads only, no engine runs. */
  function sharedFleet(): LoadBalancerProvider {
    const members: Record<string, string[]> = { web: ["i-1", "i-2", "i-3", "i-4"], api: ["i-3", "i-4", "i-5", "i-6"] };
    const view = (id: string): InstanceView => ({ id, zone: "a", state: "in-service", description: "In service", inFlight: 0, version: "v1" });
    return {
      name: "aws",
      listLoadBalancers: async () => Object.keys(members).map((name) => ({ name, provider: "aws" as const, kind: "classic" as const, drainTimeoutMs: 1_000 })),
      describeInstances: async (lb) => (members[lb] ?? []).map(view),
      memberships: async (ids) => Object.fromEntries(ids.map((id) => [id, Object.keys(members).filter((lb) => members[lb]!.includes(id))])),
      drainTimeoutMs: async () => 1_000,
      deregister: async () => {},
      register: async () => {},
      runHook: async () => [],
      trafficStats: async () => null,
    };
  }

  describe("instance locks through the command pipeline", () => {
    it("refuses a rollout reaching an instance of an active rollout through another load balancer, naming it, and changes nothing", async () => {
      const rt = createRuntime({ dataDir: env.dir, provider: sharedFleet() });
      setRuntime(rt);
      try {
        const first = await runCommand(rt, { name: "alice", role: "operator" }, { type: "start-rollout", input: { lb: "web", version: "6.0.0", batchSize: { unit: "count", value: 2 } } });
        expect(first.ok).toBe(true);
        const id = first.ok ? first.data.id : "";
        const before = { rollouts: count("SELECT count(*) AS n FROM rollouts"), events: count("SELECT count(*) AS n FROM events") };

        const second = await runCommand(rt, { name: "bob", role: "operator" }, { type: "start-rollout", input: { lb: "api", version: "7.0.0", batchSize: { unit: "count", value: 2 } } });
        const message = `i-3, i-4 belong to active rollout ${id} on web (to 6.0.0, running); wait for it to finish or abort it`;
        expect(second).toEqual({ ok: false, code: "INSTANCE_LOCKED", message, fieldErrors: { lb: message } });
        expect({ rollouts: count("SELECT count(*) AS n FROM rollouts"), events: count("SELECT count(*) AS n FROM events") }).toEqual(before);
        expect(rt.store.lockedInstances(id)).toEqual(["i-1", "i-2", "i-3", "i-4"]);
        expect(refusals()).toEqual([["bob", "rollout.start", "INSTANCE_LOCKED"]]);
      } finally {
        await rt.close();
      }
    });
  });

  describe("deploy freezes through the command pipeline", () => {
    const start = (rt: ReturnType<typeof createRuntime>, lb: string, who = "alice") =>
      runCommand(rt, { name: who, role: "operator" }, { type: "start-rollout", input: { lb, version: "6.0.0", batchSize: { unit: "count", value: 2 } } });

    it("an admin freezes web with a reason and an end: starts there are refused with both, others are not; lifting allows them again", async () => {
      const rt = createRuntime({ dataDir: env.dir, provider: sharedFleet() });
      setRuntime(rt);
      try {
        const frozen = await runCommand(rt, { name: "ada", role: "admin" }, { type: "freeze-lb", input: { lb: "web", reason: "quarter close", until: "8h" } });
        expect(frozen.ok).toBe(true);
        const refused = await start(rt, "web");
        expect(refused).toMatchObject({ ok: false, code: "FROZEN" });
        if (refused.ok) return;
        expect(refused.message).toMatch(/^web is frozen until \d{4}-\d\d-\d\d \d\d:\d\d UTC by ada: quarter close — new rollouts are refused until then/);
        expect(count("SELECT count(*) AS n FROM rollouts")).toBe(0);
        // Another load balancer is not frozen.
        const api = await start(rt, "api");
        expect(api.ok).toBe(true);
        const lifted = await runCommand(rt, { name: "ada", role: "admin" }, { type: "lift-freeze", input: { lb: "web" } });
        expect(lifted).toMatchObject({ ok: true, data: { lifted: 1 } });
        expect(await runCommand(rt, { name: "ada", role: "admin" }, { type: "lift-freeze", input: { lb: "web" } })).toMatchObject({ ok: false, code: "NOT_FROZEN" });
        const access = auditRows(authDb(), { kind: "access" }).map((r) => [r.actor, r.type]);
        expect(access).toEqual(expect.arrayContaining([["ada", "freeze-added"], ["ada", "freeze-lifted"]]));
        expect(refusals()).toEqual(expect.arrayContaining([["alice", "rollout.start", "FROZEN"]]));
      } finally {
        await rt.close();
      }
    });

    it("running rollouts are not stopped by a freeze: they can still be paused and aborted", async () => {
      const rt = createRuntime({ dataDir: env.dir, provider: sharedFleet() });
      setRuntime(rt);
      try {
        const r = await start(rt, "web");
        const id = r.ok ? r.data.id : "";
        await runCommand(rt, { name: "ada", role: "admin" }, { type: "freeze-lb", input: { lb: "web", reason: "incident 42", until: "1h" } });
        expect(await runCommand(rt, { name: "alice", role: "operator" }, { type: "operator-event", rolloutId: id, event: { type: "abort" } })).toMatchObject({ ok: true });
      } finally {
        await rt.close();
      }
    });

    it("refuses an operator, a missing reason, an end in the past or over 30 days, before any change; the database refuses a start on its own too", async () => {
      const rt = createRuntime({ dataDir: env.dir, provider: sharedFleet() });
      setRuntime(rt);
      try {
        expect(await runCommand(rt, { name: "olga", role: "operator" }, { type: "freeze-lb", input: { lb: "web", reason: "because", until: "1h" } })).toMatchObject({ ok: false, code: "FORBIDDEN" });
        expect(await runCommand(rt, { name: "ada", role: "admin" }, { type: "freeze-lb", input: { lb: "web", reason: "", until: "1h" } })).toMatchObject({ ok: false, code: "INVALID_INPUT", fieldErrors: { reason: expect.any(String) } });
        expect(await runCommand(rt, { name: "ada", role: "admin" }, { type: "freeze-lb", input: { lb: "web", reason: "old", until: "2020-01-01T00:00" } })).toMatchObject({ ok: false, code: "INVALID_INPUT", fieldErrors: { until: "The end time must be in the future" } });
        expect(await runCommand(rt, { name: "ada", role: "admin" }, { type: "freeze-lb", input: { lb: "web", reason: "long", until: "31d" } })).toMatchObject({ ok: false, code: "INVALID_INPUT", fieldErrors: { until: expect.stringMatching(/30 days/) } });
        expect(await runCommand(rt, { name: "ada", role: "admin" }, { type: "freeze-lb", input: { lb: "web", reason: "soon", until: "tomorrow" } })).toMatchObject({ ok: false, code: "INVALID_INPUT" });
        expect(count("SELECT count(*) AS n FROM freezes")).toBe(0);
        // The rule holds in the database for any writer: an insert behind the pipeline's back is refused.
        rt.store.db.prepare("INSERT INTO freezes (lb, reason, ends_at, created_by, created_at) VALUES ('web', 'x', ?, 'ada', ?)").run(Date.now() + 60_000, Date.now());
        expect(() =>
          rt.store.db
            .prepare("INSERT INTO rollouts (id, lb, provider, created_by, created_at, input, create_input, target_version, from_versions, phase) VALUES ('r-x', 'web', 'aws', 'eve', ?, '{}', '{}', 'v', '{}', 'planned')")
            .run(Date.now()),
        ).toThrow(/FROZEN/);
      } finally {
        await rt.close();
      }
    });
  });
});
