/**
 * Several engines on one PostgreSQL (a throwaway cluster, server/testing/postgres.ts):
 *
 * - `failover_takeover_ms` (goal ≤ 10,000): two headless engines (server/engine/main.ts), each under
 *   a hostname of its own as on two machines (on one host an engine skips the lease's expiry when
 *   the owner's pid is gone), share the rollouts of the local fleet (4 instances, batches of 2, auto
 *   mode, every drain held 5 s by the slow-drain fault). The engine driving a rollout is SIGKILLed as
 *   soon as batch 1's drain starts; the figure is the time from the kill to the other engine's
 *   `engine-started` with `tookOverFrom` naming the killed one. The worst of 3 rollouts (a new
 *   engine replaces the killed one each time), with `failover_takeover_p50_ms`; the lease settings
 *   measured with (`lease_ms`, `lease_renew_ms`: the defaults unless ROTOR_LEASE_MS /
 *   ROTOR_LEASE_RENEW_MS are set) are printed and reported beside them. Every rollout must finish.
 * - `pg_append_p95_ms` and `sqlite_append_p95_ms`: one checked append (RolloutJournal.append: catch
 *   up, the state machine, the insert, in one write transaction) on each store, 500 appends of
 *   the engine's tick event to one rollout, p95 of the times each took.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { planRollout } from "@/lib/rollout/plan";
import type { CreateRolloutInput } from "@/lib/rollout/machine";
import type { RolloutEvent } from "@/lib/rollout/types";
import type { StoredEvent } from "@/lib/views";
import { launchRollout } from "@/server/commands/launch";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { createRuntime, type Runtime } from "@/server/runtime";
import { RotorStore } from "@/server/store";
import { databasePath } from "@/server/store/db";
import { Journals } from "@/server/store/journal";
import { leaseSettings } from "@/server/store/leases";
import { assertOtherHostWorks } from "@/server/testing/other-host";
import { startPostgres, type TestPostgres } from "@/server/testing/postgres";
import { startEngineReplica, type ReplicaProcess } from "@/server/testing/replicas";
import { percentile } from "./engine.bench";

function log(line: string) {
  process.stderr.write(`replicas.bench: ${line}\n`);
}

async function waitFor<T>(what: string, read: () => T | null | undefined, timeoutMs: number, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const APPENDS = 500;

/** p95 of checked appends on `store`: the engine's ticks on one manual rollout that never runs. */
function appendP95(store: RotorStore): number {
  const id = `r-bench-${Date.now()}`;
  const fleet = [1, 2, 3, 4].map((n) => ({ id: `i-${n}`, zone: "a", state: "in-service" as const, version: "v1" }));
  const planned = planRollout(fleet, { version: "v2", batchSize: { unit: "count", value: 2 } });
  if (!planned.ok) throw new Error(planned.error.message);
  const createInput: CreateRolloutInput = { id, lb: `bench-${id}`, plan: planned.plan, mode: { kind: "manual" }, drainTimeoutMs: 1_000, createdAt: Date.now(), createdBy: "bench" };
  store.insertRollout(
    { id, lb: createInput.lb, provider: "local", createdBy: "bench", createdAt: createInput.createdAt, input: {}, createInput, targetVersion: "v2", fromVersions: { v1: 4 }, phase: "running" },
    [{ at: createInput.createdAt, actor: "bench", type: "start", payload: { type: "start" }, outcome: "applied" }],
  );
  const journal = new Journals(store).get(id);
  if (!journal) throw new Error(`rollout ${id} not found after insert`);
  const times: number[] = [];
  for (let i = 0; i < APPENDS; i++) {
    const event: RolloutEvent = { type: "tick", at: Date.now(), actor: "engine" };
    const t0 = performance.now();
    const r = journal.append(event);
    times.push(performance.now() - t0);
    if (!r.ok) throw new Error(`append ${i} (${event.type}) refused: ${r.code}: ${r.message}`);
  }
  // The rollout ends (aborted before anything ran), so it holds nothing on this store.
  const ended = journal.append({ type: "abort", at: Date.now(), actor: "bench" } as RolloutEvent);
  if (!ended.ok) throw new Error(`abort refused: ${ended.message}`);
  return percentile(times, 95);
}

interface Failover {
  takeoverMs: number;
  from: string;
  to: string;
}

const isStart = (e: StoredEvent) => e.type === "engine-started";

/** One rollout: the driving engine is SIGKILLed when batch 1's drain starts; the other must take over and finish it. */
async function failoverRound(rt: Runtime, fleet: LocalFleetHandle, engines: ReplicaProcess[], round: number): Promise<{ result: Failover; killed: ReplicaProcess }> {
  for (const i of await fleet.provider.describeInstances("local")) await fleet.control.injectFault({ kind: "slow-drain", instanceId: i.id, holdMs: 5_000 });
  const launched = await launchRollout(
    { store: rt.store, monitor: rt.monitor, bus: rt.bus },
    { lb: "local", plan: { version: `f${round}.0.0`, batchSize: { unit: "count", value: 2 } }, mode: { kind: "auto", bakeMs: 0 } },
    "bench",
  );
  if (!launched.ok) throw new Error(`rollout refused: ${launched.code}: ${launched.message}`);
  const id = launched.data.id;
  const events = () => rt.store.events(id);
  const first = await waitFor("an engine to take charge", () => events().find(isStart), 30_000);
  const owner = String(first.payload.owner);
  const driver = engines.find((e) => owner.startsWith(`${e.host}:${e.pid}:`));
  if (!driver) throw new Error(`rollout ${id} is driven by ${owner}, none of the bench's engines (${engines.map((e) => `${e.host}:${e.pid}`).join(", ")})`);
  await waitFor("batch 1's drain to start", () => events().find((e) => e.type === "step-started" && String(e.payload.effectId).startsWith("f0:drain#")), 60_000);
  await driver.kill();
  const killedAt = Date.now();
  const takeover = await waitFor("another engine to take over", () => events().find((e) => isStart(e) && e.payload.tookOverFrom === owner), 30_000);
  const phase = await waitFor(
    "the rollout to finish",
    () => {
      const p = rt.journals.get(id)?.state.phase;
      return p === "succeeded" || p === "failed-awaiting-operator" || p === "paused" ? p : null;
    },
    120_000,
    100,
  );
  if (phase !== "succeeded") throw new Error(`rollout ${id} did not finish after the takeover: ${phase}`);
  return { result: { takeoverMs: takeover.at - killedAt, from: owner, to: String(takeover.payload.owner) }, killed: driver };
}

async function failover(pg: TestPostgres, dir: string): Promise<Failover[]> {
  assertOtherHostWorks();
  const url = await pg.createDatabase("bench_failover");
  let fleet: LocalFleetHandle | null = null;
  let rt: Runtime | null = null;
  const engines: ReplicaProcess[] = [];
  const results: Failover[] = [];
  try {
    fleet = await startLocalFleet({ instances: 4, dataDir: path.join(dir, "fleet"), trafficRps: 20, slowFraction: 0 });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ROTOR_DATABASE_URL: url,
      ROTOR_PROVIDER: "local",
      ROTOR_CONTROL_URL: fleet.controlUrl,
      ROTOR_CONTROL_SECRET_FILE: fleet.secretFile,
      ROTOR_ANALYSIS_WINDOW_SEC: "0",
      ROTOR_LOG_LEVEL: "warn",
    };
    // This process launches rollouts and reads the log; it runs no engine.
    rt = createRuntime({ dataDir: path.join(dir, "bench"), env, provider: fleet.provider });
    let started = 0;
    const startEngine = async () => {
      const host = `engine-${String.fromCharCode(97 + started++)}`;
      engines.push(await startEngineReplica({ host, dataDir: path.join(dir, host), env }));
    };
    await startEngine();
    await startEngine();
    for (let round = 0; round < 3; round++) {
      const { result, killed } = await failoverRound(rt, fleet, engines, round);
      log(`round ${round}: ${result.from} SIGKILLed during batch 1's drain; ${result.to} took over after ${result.takeoverMs} ms`);
      results.push(result);
      engines.splice(engines.indexOf(killed), 1);
      await startEngine();
    }
  } finally {
    await Promise.all(engines.map((e) => e.stop()));
    await rt?.close();
    await fleet?.stop();
  }
  return results;
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rotor-bench-replicas-"));
  let pg: TestPostgres | null = null;
  try {
    pg = await startPostgres();
    const lease = leaseSettings(process.env);
    const pgStore = new RotorStore({ kind: "postgres", url: await pg.createDatabase("bench_append") });
    const sqliteStore = new RotorStore(databasePath(path.join(dir, "sqlite")));
    let pgP95: number;
    let sqliteP95: number;
    try {
      pgP95 = appendP95(pgStore);
      sqliteP95 = appendP95(sqliteStore);
    } finally {
      pgStore.close();
      sqliteStore.close();
    }
    log(`checked append p95 over ${APPENDS}: PostgreSQL ${pgP95.toFixed(2)} ms, SQLite ${sqliteP95.toFixed(2)} ms`);
    const takeovers = (await failover(pg, dir)).map((r) => r.takeoverMs);
    log(`failover takeover: ${takeovers.join(", ")} ms (goal ≤ 10000) with lease ${lease.leaseMs} ms, renewed every ${lease.renewMs} ms`);
    return {
      failover_takeover_ms: Math.max(...takeovers),
      failover_takeover_p50_ms: percentile(takeovers, 50),
      lease_ms: lease.leaseMs,
      lease_renew_ms: lease.renewMs,
      pg_append_p95_ms: Number(pgP95.toFixed(3)),
      sqlite_append_p95_ms: Number(sqliteP95.toFixed(3)),
    };
  } finally {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
