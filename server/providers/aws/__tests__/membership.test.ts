/**
 * Instances behind several load balancers, against moto: 4 of the 6 instances of the Classic ELB
 * `web` are also targets of the target group `api`. The provider reports each instance's other load
 * balancers; a rollout on `web` (the real engine in its own process) takes a shared instance out of
 * `api` as well before its server stops, and puts it back in both; a rollout whose memberships cannot
 * be read (DescribeTargetHealth denied) is refused before any change, naming the call and permission.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchRollout } from "@/server/commands/launch";
import { startHeadlessEngine, TestControl, type HeadlessEngine } from "@/server/engine/__tests__/harness";
import { createEstate, listCommands, motoProvider, type Estate } from "@/server/providers/aws/__tests__/fixture";
import type { AwsProvider } from "@/server/providers/aws";
import { rotorEnvFor, startMoto, type MotoServer } from "@/server/testing/moto";

let dir: string;
let moto: MotoServer;
let estate: Estate;
let provider: AwsProvider;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "rotor-aws-membership-"));
  moto = await startMoto();
  estate = await createEstate(moto, { instances: 6, classic: "web", targetGroup: "api", targetGroupInstances: 4, version: "1.0.0", drainSeconds: 1, delaySeconds: 1 });
  provider = motoProvider(moto).provider;
}, 90_000);

afterAll(async () => {
  await provider?.close();
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

const shared = () => estate.ids.slice(0, 4);

/**
 * Instance id → the last command Rotor sent it, as `hook#CommandId`, from the SSM shim's record of each
 * SendCommand request (moto's ListCommands lists every instance it knows under each command's InstanceIds).
 */
function lastHooks(): Map<string, string> {
  const last = new Map<string, string>();
  for (const c of moto.ssm.sent) for (const iid of c.ids) last.set(iid, `${c.hook}#${c.commandId}`);
  return last;
}

describe("instances behind several load balancers (moto)", () => {
  it("knows every load balancer each instance serves, and shows the others in the fleet table", async () => {
    const m = await provider.memberships(estate.ids);
    for (const id of shared()) expect(m[id]).toEqual(["tg_api", "web"]);
    for (const id of estate.ids.slice(4)) expect(m[id]).toEqual(["web"]);
    const views = await provider.describeInstances("web");
    expect(views.filter((v) => v.alsoIn?.includes("tg_api")).map((v) => v.id).sort()).toEqual([...shared()].sort());
    const api = await provider.describeInstances("tg_api");
    expect(api.every((v) => v.alsoIn?.[0] === "web")).toBe(true);
  });

  it("refuses to start when membership cannot be read, naming the call and the permission", async () => {
    const denied = motoProvider(moto, {}, (op) => {
      if (op === "DescribeTargetHealth") throw Object.assign(new Error("User is not authorized to perform: elasticloadbalancing:DescribeTargetHealth"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
    }).provider;
    const t = new TestControl(dir, denied);
    try {
      const before = t.store.listRollouts().length;
      const r = await launchRollout({ store: t.store, monitor: t.monitor, bus: t.bus }, { lb: "web", plan: { version: "9.9.9", batchSize: { unit: "count", value: 2 } }, mode: { kind: "manual" } }, "tester");
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.code).toBe("MEMBERSHIP_UNKNOWN");
      expect(r.message).toMatch(/DescribeTargetHealth/);
      expect(r.message).toMatch(/elasticloadbalancing:DescribeTargetHealth/);
      expect(t.store.listRollouts().length).toBe(before);
    } finally {
      t.close();
      await denied.close();
    }
  });

  it("refuses a second rollout that reaches a shared instance through the other load balancer, naming the first", async () => {
    const own = mkdtempSync(path.join(tmpdir(), "rotor-aws-locks-"));
    const t = new TestControl(own, provider);
    try {
      const first = await t.launch({ lb: "web", version: "6.0.0" });
      const before = (await listCommands(moto)).length;
      const r = await launchRollout({ store: t.store, monitor: t.monitor, bus: t.bus }, { lb: "tg_api", plan: { version: "7.0.0", batchSize: { unit: "count", value: 1 } }, mode: { kind: "manual" } }, "tester");
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.code).toBe("INSTANCE_LOCKED");
      expect(r.message).toContain(first);
      expect(t.store.listRollouts().map((x) => x.id)).toEqual([first]);
      // No engine runs here: nothing was sent to any instance by either.
      expect((await listCommands(moto)).length).toBe(before);
    } finally {
      t.close();
      rmSync(own, { recursive: true, force: true });
    }
  });

  it("a rollout on web takes shared instances out of api too, and puts them back in both", async () => {
    let engine: HeadlessEngine | null = null;
    const t = new TestControl(dir, provider);
    try {
      engine = await startHeadlessEngine({ dataDir: dir, controlUrl: "http://127.0.0.1:9", env: { ...rotorEnvFor(moto, { classic: "web", targetGroup: "tg_api" }), ROTOR_AWS_SSM_POLL_MS: "100" } });
      const id = await t.launch({ lb: "web", version: "1.1.0" });
      const plan = t.state(id).plan;
      expect(plan.instances.filter((i) => i.alsoIn?.includes("tg_api")).map((i) => i.id).sort()).toEqual([...shared()].sort());
      // While a server is between stop and start, no load balancer may list it as registered.
      // Each stop, deploy and start runs 1.5 s on the host, so the sampler sees every shared instance inside that window.
      moto.ssm.hooks = (hook) => (hook === "stop" || hook === "deploy" || hook === "start" ? { durationMs: 1_500 } : {});
      const violations: string[] = [];
      const seenInWindow = new Set<string>();
      let done = false;
      const sampler = (async () => {
        while (!done) {
          // Hooks read before and after the load balancers: only an instance whose last hook stayed the
          // same across both reads was certainly in that window while the load balancers were read.
          const before = lastHooks();
          const [web, api] = await Promise.all([provider.describeInstances("web"), provider.describeInstances("tg_api")]);
          const after = lastHooks();
          for (const [iid, command] of after) {
            const hook = command.split("#")[0];
            if (before.get(iid) !== command || (hook !== "stop" && hook !== "deploy" && hook !== "start")) continue;
            seenInWindow.add(iid);
            for (const [name, views] of [["web", web], ["tg_api", api]] as const) {
              const v = views.find((x) => x.id === iid);
              if (v && (v.state === "in-service" || v.state === "registering")) violations.push(`${iid} ${v.state} at ${name} after its ${hook} hook was sent`);
            }
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const end = await t.approveUntilDone(id, 180_000).finally(() => {
        done = true;
      });
      await sampler;
      expect(end).toBe("succeeded");
      // The invariant was checked where it matters: while each shared instance was between stop and start.
      for (const iid of shared()) expect(seenInWindow.has(iid), `${iid} never sampled between stop and start`).toBe(true);
      expect(violations).toEqual([]);
      const m = await provider.memberships(estate.ids);
      for (const iid of shared()) expect(m[iid]).toEqual(["tg_api", "web"]);
      for (const iid of estate.ids.slice(4)) expect(m[iid]).toEqual(["web"]);
      const api = await provider.describeInstances("tg_api");
      expect(api.filter((v) => v.state === "in-service").map((v) => v.id).sort()).toEqual([...shared()].sort());
      // The log says where each shared instance was taken out.
      const deregistered = t.events(id).filter((e) => e.type === "step-succeeded" && JSON.stringify(e.payload).includes("deregistered at"));
      expect(deregistered.length).toBeGreaterThan(0);
    } finally {
      moto.ssm.hooks = () => ({});
      t.close();
      await engine?.stop();
    }
  }, 240_000);

  it("after a restart with a batch out of rotation, the fleet still lists all 6, and abort puts every instance back in both", async () => {
    const own = mkdtempSync(path.join(tmpdir(), "rotor-aws-restart-"));
    const env = { ...rotorEnvFor(moto, { classic: "web", targetGroup: "tg_api" }), ROTOR_AWS_SSM_POLL_MS: "100" };
    let engine: HeadlessEngine | null = await startHeadlessEngine({ dataDir: own, controlUrl: "http://127.0.0.1:9", env: { ...env, ROTOR_TEST_HOLD_AFTER_MS: JSON.stringify({ stop: 60_000 }) } });
    let t = new TestControl(own, provider);
    try {
      const id = await t.launch({ lb: "web", version: "8.0.0" });
      const batch = t.state(id).plan.batches[0]!.instanceIds;
      const sharedInBatch = batch.filter((b) => shared().includes(b));
      // The stop hook has run on batch 1 (out of both load balancers); its report is held back: kill now.
      await waitFor(async () => (await listCommands(moto)).some((c) => c.Parameters?.Hook?.[0] === "stop" && c.Parameters?.Version?.[0] === "8.0.0"), 60_000);
      await engine.kill();
      engine = null;
      t.close();

      // A new dashboard process: nothing in memory says which instances Rotor deregistered.
      t = new TestControl(own, motoProvider(moto).provider);
      const web = await t.monitor.freshSnapshot("web", 0);
      expect(web.instances.map((i) => i.id).sort()).toEqual([...estate.ids].sort());
      for (const iid of batch) {
        const v = web.instances.find((i) => i.id === iid)!;
        expect(v.state).toBe("out-of-service");
        expect(v.heldBy?.rolloutId).toBe(id);
      }
      const api = await t.monitor.freshSnapshot("tg_api", 0);
      for (const iid of sharedInBatch) expect(api.instances.find((i) => i.id === iid)?.heldBy?.rolloutId).toBe(id);

      engine = await startHeadlessEngine({ dataDir: own, controlUrl: "http://127.0.0.1:9", env });
      expect(t.operate(id, { type: "abort" }).ok).toBe(true);
      await t.waitPhase(id, "aborted", 120_000);
      const m = await provider.memberships(estate.ids);
      for (const iid of shared()) expect(m[iid]).toEqual(["tg_api", "web"]);
      for (const iid of estate.ids.slice(4)) expect(m[iid]).toEqual(["web"]);
      const after = await provider.describeInstances("web");
      expect(after.filter((v) => v.state === "in-service")).toHaveLength(6);
    } finally {
      t.close();
      await engine?.stop();
      rmSync(own, { recursive: true, force: true });
    }
  }, 240_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
