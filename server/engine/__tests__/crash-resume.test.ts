/**
 * Crash-resume: one rollout on the real local fleet, under traffic, whose headless engine process is
 * SIGKILLed while each kind of effect is in progress — drain, stop, deploy, start, verify, register,
 * wait-in-service, awaiting approval, deregister — and restarted on the same data dir each time.
 * The rollout completes, nothing is left out of rotation, the log shows every crash and resume, and
 * the traffic generator saw no failed request. The same run on each kind of local fleet: Node
 * instances, and real Apache httpd + mod_perl servers (ROTOR_FLEET_SERVER=apache) whose stop is the
 * shared hook script's graceful-stop.
 *
 * How each window is hit: the drain is held open by the fleet's slow-drain fault, deploy is slowed by
 * the fleet's deploy delay, wait-in-service by a high healthy threshold; for the instant steps
 * (stop, start, verify, register, deregister) the engine holds its report after the provider call
 * (ROTOR_TEST_HOLD_AFTER_MS), so the kill lands when the step is done on the fleet but not recorded.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planRollout } from "@/lib/rollout/plan";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { startHeadlessEngine, TestControl, waitFor, type HeadlessEngine } from "./harness";

const SERVERS = [
  { server: "node", env: {} },
  // Apache's graceful stop is bounded by GracefulShutdownTimeout (from ROTOR_STOP_TIMEOUT_MS).
  { server: "apache", env: { ROTOR_FLEET_SERVER: "apache", ROTOR_STOP_TIMEOUT_MS: "15000" } },
] as const;

/** How long the engine holds a step's report after the provider call: the kill lands inside it (polled every 25 ms). */
const HOLD_MS = 2_500;

describe.each(SERVERS)("crash-resume on the $server fleet", ({ env: fleetEnv }) => {
  let dir: string;
  let fleet: LocalFleetHandle;
  let engine: HeadlessEngine | null = null;
  let t: TestControl;
  const engines: HeadlessEngine[] = [];

  const dataDir = () => path.join(dir, "engine");
  const RESULT = new Set(["step-succeeded", "step-failed", "step-timed-out"]);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "rotor-crash-"));
    fleet = await startLocalFleet({
      instances: 3,
      dataDir: path.join(dir, "fleet"),
      trafficRps: 30,
      slowFraction: 0.05,
      drainTimeoutMs: 30_000,
      deployDelayMs: 3_000,
      // 10 checks 600 ms apart: in service 5.4 s after registration, longer than an engine restart.
      healthCheck: { intervalMs: 600, healthyThreshold: 10 },
      env: fleetEnv,
    });
    t = new TestControl(dataDir(), fleet.provider);
  }, 90_000);

  afterAll(async () => {
    t?.close();
    for (const e of engines) await e.stop();
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  async function startEngine(hold: Record<string, number> = {}) {
    engine = await startHeadlessEngine({ dataDir: dataDir(), controlUrl: fleet.controlUrl, env: { ROTOR_TEST_HOLD_AFTER_MS: JSON.stringify(hold) } });
    engines.push(engine);
  }

  function openEffect(id: string, prefix: string): string | null {
    const events = t.events(id);
    const started = events.filter((e) => e.type === "step-started" && e.outcome === "applied" && String(e.payload.effectId).startsWith(prefix));
    const last = started.at(-1);
    if (!last) return null;
    const effectId = String(last.payload.effectId);
    const done = events.some((e) => RESULT.has(e.type) && e.payload.effectId === effectId);
    return done ? null : effectId;
  }

  /**
   * Waits until the effect `prefix` (e.g. "f0:drain#") is started and not reported, and `ready` holds,
   * then SIGKILLs the engine and checks the effect is still outstanding in the log.
   */
  async function crashDuring(rolloutId: string, prefix: string, ready: () => Promise<boolean> | boolean = () => true): Promise<string> {
    const effectId = await waitFor(async () => (openEffect(rolloutId, prefix) && (await ready()) ? openEffect(rolloutId, prefix) : null), {
      timeoutMs: 60_000,
      intervalMs: 25,
      what: `${prefix} to be in progress`,
    });
    await engine!.kill();
    const s = t.state(rolloutId);
    expect(s.outstanding.map((e) => e.effectId), `${effectId} must still be outstanding when the engine died`).toContain(effectId);
    return effectId;
  }

  async function control(id: string) {
    const all = await fleet.control.instances("local");
    const i = all.find((x) => x.id === id);
    if (!i) throw new Error(`no instance ${id}`);
    return i;
  }

  it("completes a rollout whose engine is SIGKILLed in every kind of effect", async () => {
    const before = await fleet.provider.describeInstances("local");
    const planned = planRollout(
      before.map((i) => ({ id: i.id, zone: i.zone, state: i.state, version: i.version })),
      { version: "9.0.0", batchSize: { unit: "count", value: 2 } },
    );
    if (!planned.ok) throw new Error(planned.error.message);
    const [b0, b1] = planned.plan.batches;
    const a = b0!.instanceIds[0]!;
    const last = b1!.instanceIds[0]!;

    await fleet.control.injectFault({ kind: "slow-drain", instanceId: a, holdMs: 10_000 });
    await fleet.control.resetTraffic();
    await startEngine();
    const id = await t.launch({ version: "9.0.0" });
    expect(t.state(id).batches.map((b) => b.instanceIds)).toEqual(planned.plan.batches.map((b) => b.instanceIds));

    const crashed: string[] = [];
    // drain: the slow-drain fault holds a request on `a` for 10 s after its deregistration
    crashed.push(await crashDuring(id, "f0:drain#", async () => ((await control(a)).inFlight ?? 0) > 0));
    await startEngine({ stop: HOLD_MS });
    crashed.push(await crashDuring(id, "f0:stop#", async () => !(await control(a)).running));
    await startEngine({ start: HOLD_MS });
    crashed.push(await crashDuring(id, "f0:deploy#"));
    await startEngine({ start: HOLD_MS });
    crashed.push(await crashDuring(id, "f0:start#", async () => (await control(a)).running));
    await startEngine({ verify: HOLD_MS });
    const verifyStarted = Date.now();
    crashed.push(await crashDuring(id, "f0:verify#", () => Date.now() - verifyStarted > 1_000 && openEffect(id, "f0:verify#") !== null));
    await startEngine({ register: HOLD_MS });
    crashed.push(await crashDuring(id, "f0:register#", async () => (await control(a)).registered));
    await startEngine();
    crashed.push(await crashDuring(id, "f0:wait-in-service#"));
    await startEngine();
    await t.waitPhase(id, "awaiting-approval");
    await engine!.kill();
    crashed.push("f0:approval#1");
    await startEngine({ deregister: HOLD_MS });
    // Approve only once the new engine has taken charge, so its resume finds the approval pending.
    await waitFor(() => t.events(id).some((e) => e.type === "engine-started" && e.payload.pid === engine!.pid), { what: "the engine to take charge" });
    expect(t.operate(id, { type: "approve" }, "ann").ok).toBe(true);
    crashed.push(await crashDuring(id, "f1:deregister#", async () => !(await control(last)).registered));
    // The engine is dead with `last` out of rotation: the next one must put it back.
    expect((await control(last)).registered).toBe(false);
    await startEngine();

    await t.waitPhase(id, "succeeded", 90_000);
    const events = t.events(id);
    if (process.env.DUMP_EVENTS) for (const e of events) console.log(e.seq, e.actor, e.type, e.outcome, JSON.stringify(e.payload).slice(0, 400));

    // Every crash was noticed, and every effect in progress was named in a resume.
    expect(events.filter((e) => e.type === "engine-crash-detected")).toHaveLength(crashed.length);
    const resumed = events.filter((e) => e.type === "engine-resumed").flatMap((e) => (e.payload.outstanding as { effectId: string }[]).map((o) => o.effectId));
    for (const effectId of crashed) expect(resumed, `a resume names ${effectId}`).toContain(effectId);
    const kinds = new Set(
      events.filter((e) => e.type === "engine-resumed").flatMap((e) => (e.payload.outstanding as { type: string; hook?: string }[]).map((o) => o.hook ?? o.type)),
    );
    for (const k of ["waitDrain", "stop", "deploy", "start", "verify", "register", "waitInService", "awaitApproval", "deregister"]) expect(kinds).toContain(k);
    // The resume of the deregister recorded what the provider reported: `last` out of rotation —
    // still draining a demo request or already drained, depending on timing; never in service.
    const deregResume = events.find((e) => e.type === "engine-resumed" && (e.payload.outstanding as { effectId: string }[]).some((o) => o.effectId.startsWith("f1:deregister#")));
    const found = (deregResume?.payload.outstanding as { instances: Record<string, { state: string } | null> }[])[0]?.instances[last];
    expect(["draining", "out-of-service"]).toContain(found?.state);

    // Nothing left out of rotation, everything on the new version, no failed request.
    await waitFor(async () => (await fleet.provider.describeInstances("local")).every((i) => i.state === "in-service"), { what: "every instance in service" });
    const after = await fleet.control.instances("local");
    expect(after.every((i) => i.registered && i.running && i.version === "9.0.0")).toBe(true);
    const traffic = await fleet.control.traffic();
    expect(traffic.requests).toBeGreaterThan(100);
    expect(traffic.failed).toBe(0);
  }, 300_000);
});
