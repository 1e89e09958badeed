/**
 * The replace strategy on the real local fleet (in-process engine, fleet and its Auto Scaling group in
 * their own processes):
 *
 * - `replace_rollout_overhead_ratio` (goal ≤ 1.15): a replace rollout's wall time (start event to the
 *   last step's report) ÷ the time the fleet itself needed. Per batch, that is the length of the union
 *   of the fleet's own intervals: each new instance's launch (the group's launch activity: its process
 *   starting on the new release until in service at every balancer, health threshold included), each
 *   old instance's drain at `local` (the balancer's own record, from deregistration to the drain's
 *   end), its termination (the group's terminate activity: the process stopping and leaving the
 *   balancers) and the verify hook's own duration. A union, because without surge the group launches
 *   the replacement while the old instance stops, as AWS does. 4 instances, batches of 2, a surge of
 *   2, auto mode without bake, light traffic, the demo's health checks (1 s, threshold 2). Median of 3.
 * - `replace_no_surge_overhead_ratio`: the same without surge (the group replaces each batch), for
 *   comparison; no goal of its own.
 *
 * A rollout that does not finish, or a group activity missing, fails the part. A drain the balancer
 * shows too briefly to be read counts for no time (said so on stderr): that can only raise the ratio.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { StoredEvent } from "@/lib/views";
import type { DrainRecord, GroupActivity } from "@/server/fleet/protocol";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { launchRollout } from "@/server/commands/launch";
import { createRuntime, type Runtime } from "@/server/runtime";
import { log as rotorLog } from "@/server/log";
import { percentile } from "./engine.bench";

const GOAL = 1.15;
const ROUNDS = 3;

function log(line: string) {
  process.stderr.write(`replace.bench: ${line}\n`);
}

interface Rig {
  fleet: LocalFleetHandle;
  rt: Runtime;
}

/** The length of the union of intervals. */
export function unionMs(intervals: [number, number][]): number {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of sorted) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/** A drain at `local` as last seen: its record, and when it was read. */
interface SeenDrain {
  record: DrainRecord;
  seenAt: number;
}

/**
 * The drain records the balancer `local` shows while `until` is pending, by instance. A retired
 * instance leaves the balancer moments after its drain, so the records are read back to back; one
 * last seen still draining counts until it was last seen (never longer than it was).
 */
async function watchDrains(fleet: LocalFleetHandle, until: Promise<unknown>): Promise<Map<string, SeenDrain>> {
  const drains = new Map<string, SeenDrain>();
  let done = false;
  void until.finally(() => {
    done = true;
  });
  while (!done) {
    const now = Date.now();
    for (const i of await fleet.control.instances("local")) if (i.lastDrain) drains.set(i.id, { record: i.lastDrain, seenAt: now });
    await new Promise((r) => setTimeout(r, 10));
  }
  return drains;
}

async function replaceRollout(r: Rig, version: string, surge: number, timeoutMs = 120_000): Promise<{ id: string; events: StoredEvent[]; drains: Map<string, SeenDrain> }> {
  const res = await launchRollout(
    { store: r.rt.store, monitor: r.rt.monitor, bus: r.rt.bus },
    { lb: "local", plan: { version, batchSize: { unit: "count", value: 2 } }, mode: { kind: "auto", bakeMs: 0 }, replace: { surge, target: version } },
    "bench",
  );
  if (!res.ok) throw new Error(`replace rollout to ${version} refused: ${res.message}`);
  const id = res.data.id;
  const finished = (async () => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = r.rt.journals.get(id)!.state;
      if (s.phase === "succeeded") return;
      if (s.phase === "failed-awaiting-operator" || s.phase === "paused") throw new Error(`replace rollout ${id} stopped: ${s.failure?.message ?? s.phase}`);
      if (Date.now() > deadline) throw new Error(`replace rollout ${id} did not finish within ${timeoutMs} ms (${s.phase})`);
      await new Promise((res2) => setTimeout(res2, 50));
    }
  })();
  const [drains] = await Promise.all([watchDrains(r.fleet, finished.catch(() => undefined)), finished]);
  return { id, events: r.rt.store.events(id), drains };
}

function interval(a: Pick<GroupActivity, "startedAt" | "endedAt" | "instanceId" | "kind">): [number, number] {
  if (a.endedAt === null) throw new Error(`the group's ${a.kind} of ${a.instanceId} has not ended`);
  return [a.startedAt, a.endedAt];
}

/** One rollout's wall time and the fleet's own time, batch by batch. */
async function measure(r: Rig, version: string, surge: number): Promise<{ wall: number; needed: number }> {
  const { id, events, drains } = await replaceRollout(r, version, surge);
  const s = r.rt.journals.get(id)!.state;
  const activities = (await r.fleet.control.group()).activities;
  const wall = (events.findLast((e) => e.type === "step-succeeded")?.at ?? NaN) - events[0]!.at;
  let needed = 0;
  const unseen: string[] = [];
  for (const b of s.batches) {
    const parts: [number, number][] = [];
    for (const newId of b.newIds ?? []) {
      const launch = activities.find((a) => a.kind === "launch" && a.instanceId === newId);
      if (!launch) throw new Error(`no launch activity for ${newId} (batch ${b.index + 1})`);
      parts.push(interval(launch));
    }
    for (const oldId of b.instanceIds) {
      const drain = drains.get(oldId);
      if (drain) parts.push([drain.record.startedAt, drain.record.endedAt ?? drain.seenAt]);
      // Never seen: it began and ended between two reads; counted as nothing, which can only raise the ratio.
      else unseen.push(oldId);
      const terminate = activities.find((a) => a.kind === "terminate" && a.instanceId === oldId);
      if (!terminate) throw new Error(`no terminate activity for ${oldId} (batch ${b.index + 1})`);
      parts.push(interval(terminate));
    }
    // The verify hook runs after everything above; its own duration, as the hook measured it.
    const verify = events.find((e) => e.type === "step-succeeded" && String(e.payload.effectId).startsWith(`f${b.index}:verify#`));
    const durations = ((verify?.payload.results as { durationMs?: number }[] | undefined) ?? []).map((x) => x.durationMs ?? 0);
    needed += unionMs(parts) + Math.max(0, ...durations);
  }
  if (unseen.length > 0) log(`${version}: the drains of ${unseen.join(", ")} fell between two reads of the balancer and count as 0 ms`);
  return { wall, needed };
}

async function ratios(dir: string, surge: number, rounds: number, label: string): Promise<number[]> {
  let r: Rig | null = null;
  const out: number[] = [];
  const health = { intervalMs: 1_000, timeoutMs: 800, healthyThreshold: 2, unhealthyThreshold: 2 };
  try {
    const fleet = await startLocalFleet({
      instances: 4,
      dataDir: path.join(dir, label, "fleet"),
      trafficRps: 20,
      slowFraction: 0,
      healthCheck: health,
      env: { ROTOR_GROUP_MAX: String(4 + surge), ROTOR_GROUP_MIN: "2" },
    });
    const rt = createRuntime({ dataDir: path.join(dir, label, "engine"), provider: fleet.provider });
    r = { fleet, rt };
    rt.startEngine();
    for (let round = 0; round < rounds; round++) {
      const { wall, needed } = await measure(r, `${round + 2}.0.${surge}`, surge);
      const ratio = wall / needed;
      if (!Number.isFinite(ratio) || ratio <= 0) throw new Error(`${label} round ${round + 1}: no ratio from wall ${wall} ms and fleet time ${needed} ms`);
      log(`${label} round ${round + 1}: wall ${wall} ms, fleet needed ${needed} ms, ratio ${ratio.toFixed(3)}`);
      out.push(ratio);
    }
  } finally {
    if (r) {
      await r.rt.close();
      await r.fleet.stop();
    }
  }
  return out;
}

export async function run(): Promise<Record<string, number>> {
  // The engine's own lines would drown the report; warnings and errors still show.
  if (!process.env.ROTOR_LOG_LEVEL) rotorLog.level = "warn";
  const dir = mkdtempSync(path.join(os.tmpdir(), "rotor-replace-bench-"));
  try {
    const surge = await ratios(dir, 2, ROUNDS, "surge");
    const noSurge = await ratios(dir, 0, ROUNDS, "no-surge");
    const out = {
      replace_rollout_overhead_ratio: Number(percentile(surge, 50).toFixed(3)),
      replace_no_surge_overhead_ratio: Number(percentile(noSurge, 50).toFixed(3)),
    };
    const verdict = out.replace_rollout_overhead_ratio <= GOAL ? "meets" : "MISSES";
    log(`replace_rollout_overhead_ratio ${out.replace_rollout_overhead_ratio} (goal ≤ ${GOAL}: ${verdict}); without surge ${out.replace_no_surge_overhead_ratio} (no goal)`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
