/** Test helpers: a temp data dir as ROTOR_DATA_DIR (and a store of either kind), cheap hashes, a rollout driven to approval. */
import { planRollout } from "@/lib/rollout/plan";
import type { RolloutEvent } from "@/lib/rollout/types";
import type { CreateRolloutInput } from "@/lib/rollout/machine";
import { createRuntime, setRuntime } from "@/server/runtime";
import type { RotorStore } from "@/server/store";
import { Journals } from "@/server/store/journal";
import { testStoreLocation, type StoreKind } from "@/server/testing/stores";
import { authDb } from "../db";
import { hashPassword } from "../password";
import type { OperatorRole } from "../roles";

/** scrypt at N=1024: the same code path, fast enough for many tests. */
export const fastHash = (pw: string) => hashPassword(pw, { N: 1024, r: 8, p: 1 });

export interface TempEnv {
  dir: string;
  kind: StoreKind;
  store: RotorStore;
  cleanup(): Promise<void>;
}

/**
 * A fresh data dir set as ROTOR_DATA_DIR, with ROTOR_OPERATORS set to `operators` (none: unset), and
 * a fresh store of `kind`: on PostgreSQL, ROTOR_DATABASE_URL names a new database, so every runtime
 * the test builds from the environment shares it (as replicas do).
 */
export async function tempEnv(operators: { name: string; role: OperatorRole; password: string }[] = [], kind: StoreKind = "sqlite"): Promise<TempEnv> {
  const where = await testStoreLocation(kind);
  const dir = where.dir;
  const saved = { data: process.env.ROTOR_DATA_DIR, ops: process.env.ROTOR_OPERATORS, tp: process.env.ROTOR_TWO_PERSON_LBS, url: process.env.ROTOR_DATABASE_URL };
  process.env.ROTOR_DATA_DIR = dir;
  if (where.env.ROTOR_DATABASE_URL) process.env.ROTOR_DATABASE_URL = where.env.ROTOR_DATABASE_URL;
  else delete process.env.ROTOR_DATABASE_URL;
  if (operators.length > 0) {
    const list = await Promise.all(operators.map(async (o) => ({ name: o.name, role: o.role, passwordHash: await fastHash(o.password) })));
    process.env.ROTOR_OPERATORS = JSON.stringify(list);
  } else delete process.env.ROTOR_OPERATORS;
  delete process.env.ROTOR_TWO_PERSON_LBS;
  const rt = createRuntime({ dataDir: dir });
  setRuntime(rt);
  authDb();
  return {
    dir,
    kind,
    store: rt.store,
    async cleanup() {
      setRuntime(null);
      rt.store.close();
      for (const [k, v] of [
        ["ROTOR_DATA_DIR", saved.data],
        ["ROTOR_OPERATORS", saved.ops],
        ["ROTOR_TWO_PERSON_LBS", saved.tp],
        ["ROTOR_DATABASE_URL", saved.url],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await where.cleanup();
    },
  };
}

/** The usual pair: alice (operator) and vera (viewer), with passwords `<name>-password`. */
export function aliceAndVera(kind: StoreKind = "sqlite"): Promise<TempEnv> {
  return tempEnv(
    [
      { name: "alice", role: "operator", password: "alice-password" },
      { name: "vera", role: "viewer", password: "vera-password" },
    ],
    kind,
  );
}

/** A rollout of 4 instances in batches of 2 (manual approval), started by `createdBy`. */
export function seedRollout(store: RotorStore, opts: { id?: string; lb?: string; createdBy: string }): string {
  const id = opts.id ?? `r-test-${Math.random().toString(16).slice(2, 8)}`;
  const lb = opts.lb ?? "local";
  const fleet = [1, 2, 3, 4].map((n) => ({ id: `i-${n}`, zone: n % 2 ? "a" : "b", state: "in-service" as const, version: "v1" }));
  const planned = planRollout(fleet, { version: "v2", batchSize: { unit: "count", value: 2 } });
  if (!planned.ok) throw new Error(planned.error.message);
  const now = Date.now();
  const createInput: CreateRolloutInput = { id, lb, plan: planned.plan, mode: { kind: "manual" }, drainTimeoutMs: 1000, createdAt: now, createdBy: opts.createdBy };
  store.insertRollout(
    { id, lb, provider: "local", createdBy: opts.createdBy, createdAt: now, input: {}, createInput, targetVersion: "v2", fromVersions: { v1: 4 }, phase: "running" },
    [{ at: now, actor: opts.createdBy, type: "start", payload: { type: "start" }, outcome: "applied" }],
  );
  return id;
}

/** Plays the engine: reports every outstanding effect as done until the rollout waits for approval. */
export function driveToApproval(store: RotorStore, id: string): void {
  const journal = new Journals(store).get(id);
  if (!journal) throw new Error(`no rollout ${id}`);
  for (let guard = 0; guard < 100 && journal.state.phase !== "awaiting-approval"; guard++) {
    const effect = journal.state.outstanding[0];
    if (!effect) throw new Error(`rollout ${id} has nothing outstanding in phase ${journal.state.phase}`);
    const at = Date.now();
    const ids = "ids" in effect ? effect.ids : [];
    for (const e of [
      { type: "step-started", effectId: effect.effectId },
      { type: "step-succeeded", effectId: effect.effectId, results: ids.map((i) => ({ id: i, ok: true })) },
    ]) {
      const r = journal.append({ ...e, at, actor: "engine" } as RolloutEvent);
      if (!r.ok) throw new Error(`${e.type} ${effect.effectId} refused: ${r.message}`);
    }
  }
  if (journal.state.phase !== "awaiting-approval") throw new Error(`rollout ${id} never reached awaiting-approval`);
}
