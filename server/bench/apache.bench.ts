/**
 * The engine on the local fleet run as real Apache httpd + mod_perl servers (ROTOR_FLEET_SERVER=apache),
 * measured exactly as engine.bench.ts measures the Node fleet (same rig, same rollouts, same formulas):
 *
 * - `apache_drain_to_next_p95_ms`: over 20 drains, from the last in-flight request of a draining
 *   instance finishing (the balancer's record) to the engine recording `step-started` for its stop.
 * - `apache_rollout_overhead_ratio`: a rollout's wall time ÷ the time the fleet itself needed (drains
 *   as the balancer measured them, the hook script's own stop/deploy/start/verify durations, the
 *   health threshold). Median of 3 rollouts.
 *
 * Apache and mod_perl must be installed: a missing one, or a figure that cannot be measured, throws,
 * so `npm run bench` prints the error, leaves these keys out and exits non-zero.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { apacheSettings, checkApacheInstalled } from "@/server/fleet/apache/instances";
import { log as rotorLog } from "@/server/log";
import { drainToNext, overhead, percentile } from "./engine.bench";

const APACHE = { ROTOR_FLEET_SERVER: "apache", ROTOR_STOP_TIMEOUT_MS: "10000" };

export async function run(): Promise<Record<string, number>> {
  if (!process.env.ROTOR_LOG_LEVEL) rotorLog.level = "warn";
  await checkApacheInstalled(apacheSettings(process.env, 10_000));
  const dir = mkdtempSync(path.join(os.tmpdir(), "rotor-apache-bench-"));
  try {
    const drains = await drainToNext(dir, APACHE);
    if (drains.length < 20) throw new Error(`only ${drains.length} of 20 Apache drains measured`);
    const ratios = await overhead(dir, APACHE);
    if (ratios.length < 3) throw new Error(`only ${ratios.length} of 3 Apache rollouts measured`);
    const p95 = Math.round(percentile(drains, 95));
    process.stderr.write(`apache.bench: drain → next step over ${drains.length} drains: p50 ${Math.round(percentile(drains, 50))} ms, p95 ${p95} ms, max ${Math.max(...drains)} ms\n`);
    return { apache_drain_to_next_p95_ms: p95, apache_rollout_overhead_ratio: Number(percentile(ratios, 50).toFixed(3)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
