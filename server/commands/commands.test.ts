/**
 * The command pipeline on a temp data dir: every refusal is on record (the rollout's log, or the
 * audit trail when there is no rollout to keep it), and nothing changes before validation passes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditRows } from "@/server/auth/audit";
import { authDb } from "@/server/auth/db";
import { seedRollout, tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";
import { runtime } from "@/server/runtime";
import { runCommand } from "./index";

let env: TempEnv;
beforeEach(async () => {
  env = await tempEnv();
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
