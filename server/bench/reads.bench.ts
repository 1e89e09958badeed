/**
 * Reading a large rollout: what `GET /api/rollouts/{id}` costs, and rebuilding a rollout from its
 * log when a process starts. A 1,000-instance rollout in batches of 5, driven through lib's machine
 * by checked appends to a real store (SQLite in a temp dir) and its journals, as the engine appends;
 * no fleet runs (the provider only answers reads, so the monitor has a snapshot to show).
 *
 * - `detail_ms_1000`: p95 of 40 reads of the rollout halfway through (batch 101 of 200, ≥ 2,000
 *   events): `rolloutDetail` plus the JSON response the route builds and sends. Each read follows a
 *   fresh event (an info note), so it pays for deriving the read model once, as the first viewer
 *   after each change does; later viewers of the same change read a cached model and cost less.
 * - `detail_ms_1000_at_200_events`: the same at 200 events; `detail_growth_1000` is the ratio of the
 *   two (goal ≤ 1.5: a read is a lookup, flat in the length of the log).
 * - `replay_ms_1000`: median of 7 fresh `Journals.get` of that rollout on the same store, as a
 *   process does at start-up: read every event and fold it through the machine again.
 * Goals (issue 11): detail p95 ≤ 20 ms, replay ≤ 200 ms.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { InstanceView } from "@/lib/fleet";
import type { RolloutEvent } from "@/lib/rollout/types";
import { json } from "@/server/api/http";
import { rolloutDetail } from "@/server/api/rollouts";
import { launchRollout } from "@/server/commands/launch";
import type { LoadBalancerProvider } from "@/server/providers/types";
import { createRuntime, type Runtime } from "@/server/runtime";
import { Journals, type RolloutJournal } from "@/server/store/journal";

const INSTANCES = 1_000;
const BATCH = 5;
const READS = 40;

function log(line: string) {
  process.stderr.write(`reads.bench: ${line}\n`);
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
}

const fleet: InstanceView[] = Array.from({ length: INSTANCES }, (_, i) => ({
  id: `i-${String(i).padStart(4, "0")}`,
  zone: `zone-${i % 4}`,
  state: "in-service",
  description: "In service",
  inFlight: 0,
  version: "v1",
}));

/** Answers reads about one load balancer of 1,000 instances; nothing here performs an effect. */
const readOnly: LoadBalancerProvider = {
  name: "local",
  memberships: async (ids: string[]) => Object.fromEntries(ids.map((id) => [id, ["bench"]])),
  listLoadBalancers: async () => [{ name: "bench", provider: "local", kind: "local", drainTimeoutMs: 1_000 }],
  describeInstances: async () => fleet,
  drainTimeoutMs: async () => 1_000,
  deregister: async () => {
    throw new Error("the reads bench performs no effects");
  },
  register: async () => {
    throw new Error("the reads bench performs no effects");
  },
  runHook: async () => {
    throw new Error("the reads bench performs no effects");
  },
  trafficStats: async () => null,
};

/** Appends what the engine and an operator would, until `stop` holds; one event per call of `step`. */
function driver(j: RolloutJournal) {
  let at = Date.now();
  const append = (e: RolloutEvent) => {
    const r = j.append(e);
    if (!r.ok) throw new Error(`bench event ${e.type} refused: ${r.message}`);
  };
  // Each outstanding effect is reported started, then (for waits) observed once, then succeeded.
  const phase = new Map<string, "started" | "observed">();
  return () => {
    const s = j.state;
    const e = s.outstanding[0];
    if (!e) throw new Error(`no outstanding effect in phase ${s.phase}`);
    at += 10;
    if (e.type === "awaitApproval") return append({ type: "approve", batch: e.batch, at, actor: "bench" });
    if (e.type === "sleep") throw new Error("no bake in manual mode");
    const seen = phase.get(e.effectId);
    if (!seen) {
      phase.set(e.effectId, "started");
      return append({ type: "step-started", effectId: e.effectId, at, actor: "engine" });
    }
    if (seen === "started" && (e.type === "waitDrain" || e.type === "waitInService")) {
      phase.set(e.effectId, "observed");
      const first = e.ids[0] ?? "";
      return append(
        e.type === "waitDrain"
          ? { type: "drain-observed", inFlight: { [first]: 1 }, at, actor: "engine" }
          : { type: "health-observed", states: { [first]: "registering" }, at, actor: "engine" },
      );
    }
    phase.delete(e.effectId);
    return append({ type: "step-succeeded", effectId: e.effectId, at, actor: "engine" });
  };
}

/** p95 of `READS` route reads, each right after a new event (an info note: the state stays put). */
async function detailP95(rt: Runtime, j: RolloutJournal): Promise<{ p95: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < READS + 5; i++) {
    j.note("wait-progress", { wait: "bench", instance: "i-0000", state: null, description: null, inFlight: null });
    const t0 = performance.now();
    const res = json(await rolloutDetail(j.rolloutId, rt));
    const body = await res.arrayBuffer();
    const t = performance.now() - t0;
    if (res.status !== 200) throw new Error(`detail read answered ${res.status}`);
    bytes = body.byteLength;
    // The first few warm the JIT, as a running dashboard is warm.
    if (i >= 5) times.push(t);
  }
  return { p95: percentile(times, 95), bytes };
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rotor-reads-bench-"));
  // Long poll intervals: the monitor's loop answers snapshot() without competing with the reads.
  const rt = createRuntime({ dataDir: dir, provider: readOnly, monitorIntervals: { fastMs: 60_000, activeMs: 60_000, idleMs: 60_000 } });
  try {
    const launched = await launchRollout(
      { store: rt.store, monitor: rt.monitor, bus: rt.bus },
      { lb: "bench", plan: { version: "v2", batchSize: { unit: "count", value: BATCH } }, mode: { kind: "manual" } },
      "bench",
    );
    if (!launched.ok) throw new Error(`bench rollout refused: ${launched.message}`);
    const id = launched.data.id;
    const j = rt.journals.get(id);
    if (!j) throw new Error(`no journal for ${id}`);
    const batches = j.state.batches.length;
    const step = driver(j);

    while (j.events.length < 200) step();
    const early = await detailP95(rt, j);
    const earlyEvents = j.events.length;
    log(`${INSTANCES} instances, ${batches} batches, at ${earlyEvents} events: detail p95 ${early.p95.toFixed(2)} ms (${(early.bytes / 1024).toFixed(0)} KiB)`);

    const half = Math.floor(batches / 2);
    while (j.state.cursor.batch < half || j.events.length < 2_000) step();
    const late = await detailP95(rt, j);
    log(
      `at ${j.events.length} events (batch ${j.state.cursor.batch + 1} of ${batches}): detail p95 ${late.p95.toFixed(2)} ms (${(late.bytes / 1024).toFixed(0)} KiB), ` +
        `${(late.p95 / early.p95).toFixed(2)}× the figure at ${earlyEvents} events (goals ≤ 20 ms, ≤ 1.5×)`,
    );

    const replays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const fresh = new Journals(rt.store).get(id);
      replays.push(performance.now() - t0);
      if (fresh?.state.cursor.batch !== j.state.cursor.batch || fresh.events.length !== j.events.length) throw new Error("the rebuilt rollout differs from the live one");
    }
    const replay = percentile(replays, 50);
    log(`rebuilding the rollout from its ${j.events.length} events: median ${replay.toFixed(1)} ms of ${replays.map((r) => r.toFixed(0)).join(", ")} (goal ≤ 200 ms)`);
    return {
      detail_ms_1000: Number(late.p95.toFixed(3)),
      detail_ms_1000_at_200_events: Number(early.p95.toFixed(3)),
      detail_growth_1000: Number((late.p95 / early.p95).toFixed(3)),
      replay_ms_1000: Number(replay.toFixed(3)),
    };
  } finally {
    await rt.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
