/**
 * The AWS provider against moto (a real AWS API emulator on a free loopback port), not mocks.
 * moto quirks the assertions allow for: Classic ELB health is always InService and draining is not
 * emulated (a deregistered instance leaves at once); moto runs no SSM command and lists every instance
 * in a command's InstanceIds. ListCommandInvocations, CancelCommand and hook runs (how long, exit
 * code, output) come from the SSM shim in front of moto (server/testing/ssm-shim.ts).
 */
import { EC2Client, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { VERSION_PATTERN } from "@/lib/rollout/types";
import { hookDocument } from "@/server/providers/aws";
import { ProviderError } from "@/server/providers/types";
import { createEstate, getDocument, listCommands, motoProvider, ZONES, type Estate } from "@/server/providers/aws/__tests__/fixture";
import { startMoto, type MotoServer } from "@/server/testing/moto";
import { startThrottlingProxy } from "@/server/testing/throttling-proxy";

let moto: MotoServer;
let estate: Estate;

beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  estate = await createEstate(moto, { instances: 6, version: "1.0.0" });
});

describe("AWS provider against moto", () => {
  it("lists the Classic ELB and the target group with their drain timeouts", async () => {
    const { provider } = motoProvider(moto);
    const lbs = await provider.listLoadBalancers();
    expect(lbs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: "web", provider: "aws", kind: "classic", drainTimeoutMs: 45_000 }),
        expect.objectContaining({ name: "tg_web-tg", provider: "aws", kind: "target-group", drainTimeoutMs: 30_000 }),
      ]),
    );
    await provider.close();
  });

  it.each(["web", "tg_web-tg"])("lists the 6 instances of %s over 2 zones, in service, with names and versions", async (lb) => {
    const { provider } = motoProvider(moto);
    const views = await provider.describeInstances(lb);
    expect(views.map((v) => v.id).sort()).toEqual([...estate.ids].sort());
    for (const v of views) {
      expect(v.state).toBe("in-service");
      expect(v.zone).toBe(estate.zoneOf[v.id]);
      expect(v.name).toMatch(/^web-\d$/);
      expect(v.version).toBe("1.0.0");
      expect(v.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
    expect(new Set(views.map((v) => v.zone))).toEqual(new Set(ZONES));
    await provider.close();
  });

  it.each(["web", "tg_web-tg"])("%s: deregister is idempotent and keeps the instance listed out of service; register brings it back", async (lb) => {
    const { provider } = motoProvider(moto);
    const [a, b] = estate.ids as [string, string];
    await provider.deregister(lb, [a, b]);
    await provider.deregister(lb, [a, b]);
    let views = await provider.describeInstances(lb);
    expect(views).toHaveLength(6);
    expect(views.filter((v) => v.state === "out-of-service").map((v) => v.id).sort()).toEqual([a, b].sort());
    expect(views.find((v) => v.id === a)?.description).toMatch(/not (currently )?registered/);
    await provider.register(lb, [a]);
    await provider.register(lb, [a]);
    views = await provider.describeInstances(lb);
    expect(views.find((v) => v.id === a)?.state).toBe("in-service");
    expect(views.find((v) => v.id === b)?.state).toBe("out-of-service");
    await provider.close();
  });

  it("refreshes with one health call, and EC2 and membership calls only when their caches are cold", async () => {
    const { provider, calls } = motoProvider(moto, { cache: { minRefreshMs: 0, ec2TtlMs: 60_000 } });
    await provider.drainTimeoutMs("tg_web-tg");
    calls.length = 0;
    await provider.describeInstances("tg_web-tg");
    // The membership index ("also in web"): the Classic ELBs' pages, the target groups, each one's health.
    expect([...calls].sort()).toEqual(["ec2:DescribeInstances", "elb:DescribeLoadBalancers", "elbv2:DescribeTargetGroups", "elbv2:DescribeTargetHealth", "elbv2:DescribeTargetHealth"]);
    calls.length = 0;
    await provider.describeInstances("tg_web-tg");
    expect(calls).toEqual(["elbv2:DescribeTargetHealth"]);
    await provider.close();
  });

  it("shares one refresh between concurrent viewers", async () => {
    const { provider, calls } = motoProvider(moto, { cache: { minRefreshMs: 5_000, ec2TtlMs: 60_000 } });
    const views = await Promise.all([1, 2, 3, 4, 5].map(() => provider.describeInstances("web")));
    expect(views.every((v) => v.length === 6)).toBe(true);
    expect(calls.filter((c) => c === "elb:DescribeInstanceHealth")).toHaveLength(1);
    await provider.close();
  });

  it("runs a hook through the Rotor-RunHook document with the version as a typed parameter", async () => {
    const { provider } = motoProvider(moto);
    const ids = estate.ids.slice(0, 2);
    const results = await provider.runHook("web", ids, "deploy", { version: "2.4.1" }, { timeoutMs: 10_000 });
    expect(results.map((r) => r.id)).toEqual(ids);
    expect(results.every((r) => r.ok && r.exitCode === 0)).toBe(true);
    const [command] = await listCommands(moto);
    expect(command?.DocumentName).toBe("Rotor-RunHook");
    expect(command?.Parameters).toEqual({ Hook: ["deploy"], Version: ["2.4.1"] });
    // A random token before the ids finds the command again if SendCommand's answer is lost.
    expect(command?.Comment).toMatch(new RegExp(`^rotor deploy web [0-9a-f]{8}: ${ids.join(" ")}$`));
    expect(command?.MaxConcurrency).toBe("50");
    expect(command?.MaxErrors).toBe("0");
    const doc = JSON.parse((await getDocument(moto, "Rotor-RunHook")) ?? "{}") as ReturnType<typeof hookDocument>;
    expect(doc).toEqual(hookDocument(provider.config));
    expect(JSON.stringify(doc)).toContain('"interpolationType":"ENV_VAR"');
    expect(doc).toMatchObject({ schemaVersion: "2.2", parameters: { Version: { type: "String", allowedPattern: VERSION_PATTERN.source } } });
    await provider.close();
  });

  it("updates the document when the hook configuration changes", async () => {
    const first = motoProvider(moto);
    await first.provider.runHook("web", estate.ids.slice(0, 1), "start", { version: "1.0.0" }, { timeoutMs: 10_000 });
    await first.provider.close();
    const second = motoProvider(moto, { hooks: { start: "systemctl start httpd" } });
    await second.provider.runHook("web", estate.ids.slice(0, 1), "start", { version: "1.0.0" }, { timeoutMs: 10_000 });
    expect(second.calls).toEqual(expect.arrayContaining(["ssm:UpdateDocument", "ssm:UpdateDocumentDefaultVersion"]));
    expect(await getDocument(moto, "Rotor-RunHook")).toContain("systemctl start httpd");
    await second.provider.close();
  });

  it("refuses a version like `1.2; rm -rf /` before any AWS call", async () => {
    const { provider, calls } = motoProvider(moto);
    for (const version of ["1.2; rm -rf /", "$(reboot)", "1.2 && curl evil", "", "a".repeat(129), ".", "..", "--force", "-rf", "v2\n"]) {
      await expect(provider.runHook("web", estate.ids.slice(0, 1), "deploy", { version }, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: "INVALID_INPUT" });
    }
    expect(calls).toEqual([]);
    expect(await listCommands(moto)).toEqual([]);
    await provider.close();
  });

  it("sends at most 50 instance ids per SendCommand", async () => {
    await moto.reset();
    const big = await createEstate(moto, { instances: 120 });
    const { provider, calls } = motoProvider(moto);
    const results = await provider.runHook("web", big.ids, "stop", { version: "1.0.0" }, { timeoutMs: 30_000 });
    expect(results).toHaveLength(120);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls.filter((c) => c === "ssm:SendCommand")).toHaveLength(3);
    // Batched polling: one ListCommandInvocations per command per poll (the shim ends each hook at once).
    expect(calls.filter((c) => c === "ssm:ListCommandInvocations")).toHaveLength(3);
    expect(calls.filter((c) => c === "ssm:GetCommandInvocation")).toHaveLength(0);
    await provider.close();
  });

  it("lists an unknown configured load balancer with its problem, and the valid one as ever", async () => {
    const { provider, calls } = motoProvider(moto, { loadBalancers: ["web", "tg_nope"] });
    const lbs = await provider.listLoadBalancers();
    expect(lbs.map((l) => [l.name, l.problem ?? null])).toEqual([
      ["web", null],
      ["tg_nope", expect.stringMatching(/^ROTOR_AWS_LOAD_BALANCERS names tg_nope, which AWS does not have .*found: .*web.*correct the name or remove it from ROTOR_AWS_LOAD_BALANCERS\.$/)],
    ]);
    expect(lbs.find((l) => l.name === "tg_nope")).toMatchObject({ kind: "target-group" });
    expect(await provider.describeInstances("web")).toHaveLength(estate.ids.length);
    // The unknown one fails on its own, without asking AWS again.
    const before = calls.length;
    const err: unknown = await provider.describeInstances("tg_nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: "CONFIG", message: expect.stringContaining("tg_nope") });
    expect(calls.length).toBe(before);
    await provider.close();
  });

  it("shows only the configured load balancers", async () => {
    const { provider } = motoProvider(moto, { loadBalancers: ["tg_web-tg"] });
    expect((await provider.listLoadBalancers()).map((l) => l.name)).toEqual(["tg_web-tg"]);
    await expect(provider.describeInstances("web")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await provider.close();
  });

  it("backs off throttling from AWS and reports a warning, not a failure", async () => {
    // AWS's own Throttling answer over HTTP, twice: the SDK's adaptive retries get past it.
    const proxy = await startThrottlingProxy(moto.endpoint, (op, n) => op === "DescribeInstanceHealth" && n <= 2);
    const { provider, calls } = motoProvider({ ...moto, endpoint: proxy.endpoint });
    try {
      const views = await provider.describeInstances("web");
      expect(views).toHaveLength(6);
      expect(proxy.requests.get("DescribeInstanceHealth")).toBe(3);
      expect(calls.filter((c) => c === "elb:DescribeInstanceHealth")).toHaveLength(3);
      expect(provider.warnings().filter((w) => w.code === "THROTTLED" && /DescribeInstanceHealth/.test(w.message))).toHaveLength(2);
    } finally {
      await provider.close();
      await proxy.close();
    }
  });

  it("keeps polling while a fresh command lists no invocations yet", async () => {
    let empty = 0;
    const { provider, calls } = motoProvider(moto, {}, (op) => {
      if (op === "ListCommandInvocations" && empty < 2) {
        empty++;
        return (out) => Object.assign(out, { CommandInvocations: [] });
      }
    });
    const [result] = await provider.runHook("web", estate.ids.slice(0, 1), "start", { version: "1.0.0" }, { timeoutMs: 10_000 });
    expect(result).toMatchObject({ ok: true, exitCode: 0 });
    expect(empty).toBe(2);
    expect(calls.filter((c) => c === "ssm:ListCommandInvocations")).toHaveLength(3);
    expect(calls.filter((c) => c === "ssm:SendCommand")).toHaveLength(1);
    await provider.close();
  });

  it("puts a failing hook's exit status and output tail into its result, without throwing", async () => {
    // The shim (server/testing/ssm-shim.ts) runs the hook as failing on the second instance.
    moto.ssm.hooks = (_hook, id) => (id === estate.ids[1] ? { exitCode: 7, stdout: "curl: (7) Failed to connect", stderr: "expected version 2.0.0" } : {});
    const { provider } = motoProvider(moto);
    const results = await provider.runHook("web", estate.ids.slice(0, 2), "verify", { version: "2.0.0" }, { timeoutMs: 10_000 });
    expect(results[0]).toMatchObject({ ok: true, exitCode: 0 });
    expect(results[1]).toMatchObject({ ok: false, exitCode: 7 });
    expect(results[1]?.outputTail).toContain("curl: (7) Failed to connect");
    expect(results[1]?.outputTail).toContain("expected version 2.0.0");
    // Only the verified instance is recorded as serving 2.0.0.
    const views = await provider.describeInstances("web");
    expect(views.find((v) => v.id === estate.ids[0])?.version).toBe("2.0.0");
    expect(views.find((v) => v.id === estate.ids[1])?.version).toBe("1.0.0");
    await provider.close();
  });

  it("feeds the in-flight probe's count into draining instances (draining itself injected: moto does not drain)", async () => {
    const draining = estate.ids[0];
    const { provider } = motoProvider(moto, { inFlightCommand: "curl -fsS http://127.0.0.1/server-status?auto | grep BusyWorkers" }, (op) => {
      if (op === "DescribeTargetHealth") {
        return (out) => {
          const list = out.TargetHealthDescriptions as { Target?: { Id?: string }; TargetHealth?: Record<string, string> }[];
          for (const d of list) if (d.Target?.Id === draining) d.TargetHealth = { State: "draining", Reason: "Target.DeregistrationInProgress", Description: "Target deregistration is in progress" };
        };
      }
    });
    moto.ssm.hooks = (hook) => (hook === "probe" ? { stdout: "BusyWorkers: 3\n" } : {});
    const first = await provider.describeInstances("tg_web-tg");
    expect(first.find((v) => v.id === draining)).toMatchObject({ state: "draining", reasonCode: "Target.DeregistrationInProgress" });
    await expect.poll(async () => (await provider.describeInstances("tg_web-tg")).find((v) => v.id === draining)?.inFlight, { timeout: 10_000, interval: 100 }).toBe(3);
    const probes = (await listCommands(moto)).filter((c) => c.Parameters?.Hook?.[0] === "probe");
    expect(probes.length).toBeGreaterThanOrEqual(1);
    expect(probes[0]?.Comment).toMatch(new RegExp(`^rotor probe tg_web-tg [0-9a-f]{8}: ${draining}$`));
    await provider.close();
  });

  it("stops listing an instance Rotor took out once EC2 says it is terminated", async () => {
    const { provider } = motoProvider(moto);
    const [a] = estate.ids as [string];
    await provider.deregister("tg_web-tg", [a]);
    expect((await provider.describeInstances("tg_web-tg")).find((v) => v.id === a)?.state).toBe("out-of-service");
    const ec2 = new EC2Client({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [a] }));
    ec2.destroy();
    const views = await provider.describeInstances("tg_web-tg");
    expect(views.map((v) => v.id)).not.toContain(a);
    expect(views).toHaveLength(5);
    await provider.close();
  });

  it("cancels a hook that outlives its timeout and reports it failed, not thrown", async () => {
    moto.ssm.hooks = () => ({ durationMs: 60_000 });
    const { provider, calls } = motoProvider(moto);
    const [result] = await provider.runHook("web", estate.ids.slice(0, 1), "deploy", { version: "1.0.1" }, { timeoutMs: 400 });
    expect(result).toMatchObject({ ok: false, exitCode: null });
    expect(result?.outputTail).toMatch(/timed out after 400 ms; command .* cancelled/);
    expect(calls.filter((c) => c === "ssm:CancelCommand")).toHaveLength(1);
    expect(moto.ssm.cancels).toEqual([expect.objectContaining({ commandId: result?.commandId, ids: estate.ids.slice(0, 1) })]);
    await provider.close();
  });
});
