/**
 * The engine on the real local fleet (in-process engine, fleet in its own processes):
 *
 * - `drain_to_next_p50_ms`, `drain_to_next_p95_ms`: over 20 drains (4 instances, batches of 1, auto
 *   mode without bake, 5 rollouts), the time from the last in-flight request of a draining instance
 *   finishing (the balancer's own record, `lastDrain.lastRequestDoneAt`, made long by the slow-drain
 *   fault holding a request 600 ms) to the engine recording `step-started` for the next effect (stop).
 * - `rollout_overhead_ratio`: a rollout's wall time (start event to the last step's report) ÷ the
 *   time the fleet itself needed, per batch the slowest instance of each: the drain as the balancer
 *   measured it, the stop, deploy, start and verify hooks' own durations, and the health threshold
 *   ((healthyThreshold − 1) × interval: checks start at registration). 4 instances, batches of 2,
 *   the demo's health checks (1 s, threshold 2), light traffic. Median of 3 rollouts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { StoredEvent } from "@/lib/views";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import type { FleetMonitor } from "@/server/monitor";
import type { RotorStore } from "@/server/store";
import type { Journals } from "@/server/store/journal";
import { launchRollout } from "@/server/commands/launch";
import { createRuntime, type Runtime } from "@/server/runtime";
import { log as rotorLog } from "@/server/log";

function log(line: string) {
  process.stderr.write(`engine.bench: ${line}\n`);
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

interface Rig {
  fleet: LocalFleetHandle;
  rt: Runtime;
  store: RotorStore;
  monitor: FleetMonitor;
  journals: Journals;
}

async function rig(dir: string, fleetOptions: Parameters<typeof startLocalFleet>[0]): Promise<Rig> {
  const fleet = await startLocalFleet(fleetOptions);
  const rt = createRuntime({ dataDir: path.join(dir, "engine"), provider: fleet.provider });
  rt.startEngine();
  return { fleet, rt, store: rt.store, monitor: rt.monitor, journals: rt.journals };
}

async function closeRig(r: Rig | null) {
  if (!r) return;
  await r.rt.close();
  await r.fleet.stop();
}

async function rollout(r: Rig, version: string, batch: number, timeoutMs = 120_000): Promise<{ id: string; events: StoredEvent[] }> {
  const res = await launchRollout(
    { store: r.store, monitor: r.monitor, bus: r.rt.bus },
    { lb: "local", plan: { version, batchSize: { unit: "count", value: batch } }, mode: { kind: "auto", bakeMs: 0 } },
    "bench",
  );
  if (!res.ok) throw new Error(`rollout refused: ${res.message}`);
  const id = res.data.id;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = r.journals.get(id)!.state;
    if (s.phase === "succeeded") break;
    if (s.phase === "failed-awaiting-operator" || s.phase === "paused") throw new Error(`rollout ${id} stopped: ${s.failure?.message ?? s.phase}`);
    if (Date.now() > deadline) throw new Error(`rollout ${id} did not finish within ${timeoutMs} ms (${s.phase})`);
    await new Promise((res2) => setTimeout(res2, 50));
  }
  return { id, events: r.store.events(id) };
}

function started(events: StoredEvent[], prefix: string): StoredEvent | undefined {
  return events.find((e) => e.type === "step-started" && String(e.payload.effectId).startsWith(prefix));
}

function resultOf(events: StoredEvent[], prefix: string): StoredEvent | undefined {
  return events.find((e) => (e.type === "step-succeeded" || e.type === "step-failed") && String(e.payload.effectId).startsWith(prefix));
}

/** The fleet's own environment for a measurement (e.g. `ROTOR_FLEET_SERVER=apache`); the Node fleet when empty. */
type FleetEnv = Record<string, string>;

export async function drainToNext(dir: string, env: FleetEnv = {}): Promise<number[]> {
  let r: Rig | null = null;
  const samples: number[] = [];
  try {
    r = await rig(path.join(dir, "drain"), { instances: 4, dataDir: path.join(dir, "drain", "fleet"), trafficRps: 20, slowFraction: 0, env });
    for (let round = 0; samples.length < 20; round++) {
      for (const i of await r.fleet.provider.describeInstances("local")) {
        await r.fleet.control.injectFault({ kind: "slow-drain", instanceId: i.id, holdMs: 600 });
      }
      const { events } = await rollout(r, `d${round}`, 1);
      const instances = await r.fleet.control.instances("local");
      const s = r.journals.get(events[0]!.rolloutId)!.state;
      for (const b of s.batches) {
        const id = b.instanceIds[0]!;
        const done = instances.find((x) => x.id === id)?.lastDrain?.lastRequestDoneAt;
        const next = started(events, `f${b.index}:stop#`);
        if (done == null || !next) {
          log(`${env.ROTOR_FLEET_SERVER ?? "node"} round ${round} batch ${b.index}: no drain record (${done}) or no stop (${!!next}); skipped`);
          continue;
        }
        samples.push(next.at - done);
      }
      log(`${env.ROTOR_FLEET_SERVER ?? "node"} round ${round}: ${samples.length} drains so far, last ${samples.slice(-4).join(", ")} ms`);
      if (round > 10) break;
    }
  } finally {
    await closeRig(r);
  }
  return samples.slice(0, 20);
}

export async function overhead(dir: string, env: FleetEnv = {}): Promise<number[]> {
  let r: Rig | null = null;
  const ratios: number[] = [];
  const health = { intervalMs: 1_000, timeoutMs: 800, healthyThreshold: 2, unhealthyThreshold: 2 };
  try {
    r = await rig(path.join(dir, "overhead"), { instances: 4, dataDir: path.join(dir, "overhead", "fleet"), trafficRps: 20, slowFraction: 0, healthCheck: health, env });
    for (let round = 0; round < 3; round++) {
      const { id, events } = await rollout(r, `o${round}`, 2);
      const s = r.journals.get(id)!.state;
      const instances = await r.fleet.control.instances("local");
      const wall = (events.findLast((e) => e.type === "step-succeeded")?.at ?? NaN) - events[0]!.at;
      let fleetNeeded = 0;
      for (const b of s.batches) {
        const drains = b.instanceIds.map((x) => {
          const d = instances.find((i) => i.id === x)?.lastDrain;
          return d && d.endedAt !== null ? d.endedAt - d.startedAt : 0;
        });
        fleetNeeded += Math.max(0, ...drains);
        for (const hook of ["stop", "deploy", "start", "verify"]) {
          const res = resultOf(events, `f${b.index}:${hook}#`);
          const durations = ((res?.payload.results as { durationMs?: number }[] | undefined) ?? []).map((x) => x.durationMs ?? 0);
          fleetNeeded += Math.max(0, ...durations);
        }
        fleetNeeded += (health.healthyThreshold - 1) * health.intervalMs;
      }
      const ratio = wall / fleetNeeded;
      log(`${env.ROTOR_FLEET_SERVER ?? "node"} overhead round ${round}: wall ${wall} ms, fleet needed ${fleetNeeded} ms, ratio ${ratio.toFixed(3)}`);
      ratios.push(ratio);
    }
  } finally {
    await closeRig(r);
  }
  return ratios;
}

export async function run(): Promise<Record<string, number>> {
  // The engine's own lines would drown the report; warnings and errors still show.
  if (!process.env.ROTOR_LOG_LEVEL) rotorLog.level = "warn";
  const dir = mkdtempSync(path.join(os.tmpdir(), "rotor-engine-bench-"));
  const out: Record<string, number> = {};
  try {
    const drains = await drainToNext(dir);
    if (drains.length >= 20) {
      out.drain_to_next_p50_ms = Math.round(percentile(drains, 50));
      out.drain_to_next_p95_ms = Math.round(percentile(drains, 95));
      log(`drain → next step over ${drains.length} drains: p50 ${out.drain_to_next_p50_ms} ms, p95 ${out.drain_to_next_p95_ms} ms, max ${Math.max(...drains)} ms`);
    } else {
      log(`only ${drains.length} drains measured; leaving drain_to_next out`);
    }
    const ratios = await overhead(dir);
    if (ratios.length === 3) out.rollout_overhead_ratio = Number(percentile(ratios, 50).toFixed(3));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
