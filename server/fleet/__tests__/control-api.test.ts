/**
 * The control API on the real fleet: bad input (unknown instance, malformed JSON, invalid version, …)
 * answers 4xx with a clear JSON message and changes nothing; faults and hooks behave as documented.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, existsSync, statSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { readControlSecret } from "../control-secret";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import { ProviderError } from "@/server/providers/types";
import { waitFor } from "./procedure";

let fleet: LocalFleetHandle;
let dataDir: string;

const secret = () => readControlSecret(fleet.secretFile) ?? "";

async function raw(method: string, urlPath: string, body?: string, type = "application/json") {
  const headers: Record<string, string> = { authorization: `Bearer ${secret()}`, ...(method === "GET" ? {} : { "content-type": type }) };
  const res = await fetch(`${fleet.controlUrl}${urlPath}`, { method, body, headers });
  return { status: res.status, json: (await res.json()) as { error?: { code: string; message: string } } };
}

/** node:http, not fetch: fetch will not send a Host header of our choosing. */
function request(method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const url = new URL(`${fleet.controlUrl}${urlPath}`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { error?: { code: string; message: string } } }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** What must not change when input is refused. */
async function snapshot() {
  const instances = await fleet.control.instances("local");
  return {
    instances: instances.map((i) => ({ id: i.id, state: i.state, registered: i.registered, version: i.version, deployedVersion: i.deployedVersion, running: i.running })),
    faults: await fleet.control.faults(),
    drainTimeoutMs: (await fleet.control.loadBalancer("local")).drainTimeoutMs,
  };
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-control-"));
  fleet = await startLocalFleet({ instances: 3, dataDir });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("control API access", () => {
  const port = () => new URL(fleet.controlUrl).port;

  it("keeps its per-start secret in a 0600 file of the data dir", () => {
    expect(statSync(fleet.secretFile).mode & 0o777).toBe(0o600);
    expect(secret()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it.each([
    ["no secret (curl)", "GET", "/v1/fleet", {}],
    ["no secret, a change", "POST", "/v1/reset", { "content-type": "application/json" }],
    ["a wrong secret", "DELETE", "/v1/faults", { authorization: "Bearer not-the-secret", "content-type": "application/json" }],
    ["a secret of another scheme", "GET", "/v1/faults", { authorization: "Basic Zm9vOmJhcg==" }],
  ] as const)("answers 401 to %s, and nothing changes", async (_name, method, urlPath, headers) => {
    await fleet.control.injectFault({ kind: "deploy-fails", instanceId: "i-local-1" });
    const before = await snapshot();
    const res = await request(method, urlPath, { host: `127.0.0.1:${port()}`, ...headers }, method === "GET" ? undefined : "{}");
    expect(res.status).toBe(401);
    expect(res.json.error?.code).toBe("UNAUTHENTICATED");
    expect(await snapshot()).toEqual(before);
    await fleet.control.clearFaults();
  });

  it("answers the health check without the secret (npm start probes it)", async () => {
    expect((await request("GET", "/v1/health", { host: `127.0.0.1:${port()}` })).status).toBe(200);
  });

  it.each(["evil.example", `evil.example:${"PORT"}`, "127.0.0.1", "10.0.0.1:PORT"])("refuses Host %s (DNS rebinding) with 403, even with the secret", async (host) => {
    const res = await request("POST", "/v1/reset", { host: host.replace("PORT", port()), authorization: `Bearer ${secret()}`, "content-type": "application/json" }, "{}");
    expect(res.status).toBe(403);
    expect(res.json.error?.code).toBe("FORBIDDEN_HOST");
  });

  it.each(["localhost", "[::1]"])("accepts the loopback name %s with the port", async (name) => {
    expect((await request("GET", "/v1/faults", { host: `${name}:${port()}`, authorization: `Bearer ${secret()}` })).status).toBe(200);
  });

  it.each([
    ["a form post", "POST", "/v1/reset", "application/x-www-form-urlencoded"],
    ["a text/plain post (a page's simple request)", "POST", "/v1/traffic/reset", "text/plain"],
    ["a DELETE with no type", "DELETE", "/v1/faults", undefined],
  ] as const)("refuses %s with 415", async (_name, method, urlPath, type) => {
    await fleet.control.injectFault({ kind: "start-fails", instanceId: "i-local-2" });
    const before = await snapshot();
    const headers: Record<string, string> = { host: `127.0.0.1:${port()}`, authorization: `Bearer ${secret()}`, ...(type ? { "content-type": type } : {}) };
    const res = await request(method, urlPath, headers, type ? "{}" : undefined);
    expect(res.status).toBe(415);
    expect(await snapshot()).toEqual(before);
    await fleet.control.clearFaults();
  });

  it("records control actions and refusals in the fleet's log", async () => {
    await fleet.control.injectFault({ kind: "backend-500", instanceId: "i-local-3" });
    await fleet.control.clearFaults();
    await request("POST", "/v1/reset", { host: `127.0.0.1:${port()}`, "content-type": "application/json" }, "{}");
    await expect.poll(() => fleet.output()).toMatch(/control POST \/v1\/faults → 200/);
    expect(fleet.output()).toMatch(/control DELETE \/v1\/faults → 200/);
    expect(fleet.output()).toMatch(/control POST \/v1\/reset → 401/);
  });
});

describe("control API bad input", () => {
  const cases: [string, string, string, string | undefined, number, string][] = [
    ["unknown instance (deregister)", "POST", "/v1/load-balancers/local/deregister", JSON.stringify({ ids: ["i-local-1", "i-local-9"] }), 404, "UNKNOWN_INSTANCE"],
    ["unknown instance (hook)", "POST", "/v1/hooks/stop", JSON.stringify({ ids: ["i-nope"], params: { version: "1.0.0" } }), 404, "UNKNOWN_INSTANCE"],
    ["unknown instance (fault)", "POST", "/v1/faults", JSON.stringify({ kind: "deploy-fails", instanceId: "i-local-42" }), 404, "UNKNOWN_INSTANCE"],
    ["malformed JSON", "POST", "/v1/load-balancers/local/register", '{"ids": ["i-local-1"', 400, "MALFORMED_JSON"],
    ["invalid version (shell)", "POST", "/v1/hooks/deploy", JSON.stringify({ ids: ["i-local-1"], params: { version: "1.0; rm -rf /" } }), 400, "INVALID_INPUT"],
    ["invalid version (dots)", "POST", "/v1/hooks/deploy", JSON.stringify({ ids: ["i-local-1"], params: { version: ".." } }), 400, "INVALID_INPUT"],
    ["missing ids", "POST", "/v1/load-balancers/local/deregister", JSON.stringify({}), 400, "INVALID_INPUT"],
    ["unknown field", "POST", "/v1/load-balancers/local/settings", JSON.stringify({ drainTimeoutMs: 5, evil: true }), 400, "INVALID_INPUT"],
    ["negative drain timeout", "POST", "/v1/load-balancers/local/settings", JSON.stringify({ drainTimeoutMs: -1 }), 400, "INVALID_INPUT"],
    ["unknown fault kind", "POST", "/v1/faults", JSON.stringify({ kind: "meteor", instanceId: "i-local-1" }), 400, "INVALID_INPUT"],
    ["unknown hook", "POST", "/v1/hooks/reboot", JSON.stringify({ ids: ["i-local-1"], params: { version: "1.0.0" } }), 404, "UNKNOWN_HOOK"],
    ["unknown load balancer", "GET", "/v1/load-balancers/prod/instances", undefined, 404, "UNKNOWN_LOAD_BALANCER"],
    // This fleet has no second balancer (ROTOR_INTERNAL_INSTANCES=0): its routes answer as for any unknown name.
    ["second balancer not configured (deregister)", "POST", "/v1/load-balancers/local-internal/deregister", JSON.stringify({ ids: ["i-local-1"] }), 404, "UNKNOWN_LOAD_BALANCER"],
    ["unknown load balancer (traffic)", "GET", "/v1/load-balancers/prod/traffic", undefined, 404, "UNKNOWN_LOAD_BALANCER"],
    ["unknown load balancer (settings)", "POST", "/v1/load-balancers/prod/settings", JSON.stringify({ drainTimeoutMs: 5 }), 404, "UNKNOWN_LOAD_BALANCER"],
    ["traffic bounded to 0 ms", "POST", "/v1/traffic", JSON.stringify({ forMs: 0 }), 400, "INVALID_INPUT"],
    ["wrong method", "DELETE", "/v1/load-balancers/local/instances", undefined, 405, "METHOD_NOT_ALLOWED"],
    ["not JSON", "POST", "/v1/load-balancers/local/register", "ids=i-local-1", 415, "UNSUPPORTED_MEDIA_TYPE"],
    ["unknown path", "GET", "/v1/nothing", undefined, 404, "NOT_FOUND"],
  ];

  it.each(cases)("%s (%s %s) → 4xx, nothing changes", async (_name, method, urlPath, body, status, code) => {
    const before = await snapshot();
    const res = await raw(method, urlPath, body, code === "UNSUPPORTED_MEDIA_TYPE" ? "application/x-www-form-urlencoded" : "application/json");
    expect(res.status).toBe(status);
    expect(res.json.error?.code).toBe(code);
    expect(res.json.error?.message.length).toBeGreaterThan(10);
    expect(await snapshot()).toEqual(before);
  });

  it("is not reachable through the proxied port", async () => {
    const res = await fetch(`${fleet.lbUrl}/v1/fleet`);
    expect(res.status).toBe(404); // the demo app's 404, not the control API
    expect(res.headers.get("x-rotor-instance")).toMatch(/^i-local-\d$/);
    const del = await fetch(`${fleet.lbUrl}/v1/faults`, { method: "DELETE" });
    expect(del.headers.get("x-rotor-instance")).toMatch(/^i-local-\d$/);
  });

  it("names the unknown instance in its message, and the client maps the status to a ProviderError", async () => {
    const err = await fleet.control.deregister("local", ["i-local-9"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).code).toBe("NOT_FOUND");
    expect((err as ProviderError).message).toContain("i-local-9");
    const bad = await fleet.control.runHook("deploy", { ids: ["i-local-1"], params: { version: "bad version" } }).catch((e: unknown) => e);
    expect((bad as ProviderError).code).toBe("INVALID_INPUT");
    expect(existsSync(path.join(dataDir, "fleet", "releases", "bad version"))).toBe(false);
  });
});

describe("hooks and faults", () => {
  it("deploy of a broken version fails cleanly and keeps the current release", async () => {
    const [r] = await fleet.provider.runHook("local", ["i-local-3"], "deploy", { version: "2.0.0-broken" }, { timeoutMs: 10_000 });
    expect(r).toMatchObject({ id: "i-local-3", ok: false, exitCode: 1 });
    expect(r!.outputTail).toContain("marked broken");
    expect((await fleet.control.instances("local")).find((i) => i.id === "i-local-3")?.deployedVersion).toBe("1.0.0");
  });

  it("next deploy fails, next start fails, each once; verify reports the version it saw", async () => {
    const p = fleet.provider;
    await fleet.control.deregister("local", ["i-local-3"]);
    await waitFor("drained", async () => (await p.describeInstances("local")).find((i) => i.id === "i-local-3")?.state === "out-of-service");
    await fleet.control.injectFault({ kind: "deploy-fails", instanceId: "i-local-3" });
    await fleet.control.injectFault({ kind: "start-fails", instanceId: "i-local-3" });
    const opts = { timeoutMs: 15_000 };
    expect((await p.runHook("local", ["i-local-3"], "stop", { version: "3.0.0" }, opts))[0]?.ok).toBe(true);
    const d1 = (await p.runHook("local", ["i-local-3"], "deploy", { version: "3.0.0" }, opts))[0]!;
    expect(d1.ok).toBe(false);
    expect(d1.outputTail).toContain("injected fault: deploy-fails");
    expect((await p.runHook("local", ["i-local-3"], "deploy", { version: "3.0.0" }, opts))[0]?.ok).toBe(true);
    const s1 = (await p.runHook("local", ["i-local-3"], "start", { version: "3.0.0" }, opts))[0]!;
    expect(s1.ok).toBe(false);
    expect(s1.outputTail).toContain("injected fault: start-fails");
    expect((await p.runHook("local", ["i-local-3"], "start", { version: "3.0.0" }, opts))[0]?.ok).toBe(true);
    const wrong = (await p.runHook("local", ["i-local-3"], "verify", { version: "9.9.9" }, opts))[0]!;
    expect(wrong).toMatchObject({ ok: false, observedVersion: "3.0.0" });
    const right = (await p.runHook("local", ["i-local-3"], "verify", { version: "3.0.0" }, opts))[0]!;
    expect(right).toMatchObject({ ok: true, exitCode: 0, observedVersion: "3.0.0" });
    expect(await fleet.control.faults()).toEqual([]);
  });

  it("health check fails after start keeps the instance out of service until the fault is cleared", async () => {
    const p = fleet.provider;
    await fleet.control.injectFault({ kind: "health-fails-after-start", instanceId: "i-local-3" });
    expect((await p.runHook("local", ["i-local-3"], "stop", { version: "3.0.0" }, { timeoutMs: 10_000 }))[0]?.ok).toBe(true);
    expect((await p.runHook("local", ["i-local-3"], "start", { version: "3.0.0" }, { timeoutMs: 10_000 }))[0]?.ok).toBe(true);
    await p.register("local", ["i-local-3"]);
    const failing = await waitFor("i-local-3 failing its checks", async () => {
      const i = (await p.describeInstances("local")).find((x) => x.id === "i-local-3");
      return i?.state === "out-of-service" ? i : undefined;
    });
    expect(failing.description).toBe("Instance has failed at least the UnhealthyThreshold number of health checks consecutively.");
    expect(failing.reasonCode).toBe("Instance");
    expect(failing.healthCheck?.ok).toBe(false);
    await fleet.control.clearFaults();
    await waitFor("i-local-3 in service", async () => (await p.describeInstances("local")).find((x) => x.id === "i-local-3")?.state === "in-service");
  });

  it("stop forces the instance down after its graceful period, and says so", async () => {
    const p = fleet.provider;
    const pending = fetch(`${fleet.lbUrl}/slow?ms=8000`).then((r) => r.status, () => 0);
    const holder = await waitFor("a request in flight", async () => (await p.describeInstances("local")).find((i) => (i.inFlight ?? 0) > 0));
    const [r] = await p.runHook("local", [holder.id], "stop", { version: "1.0.0" }, { timeoutMs: 1_000 });
    expect(r).toMatchObject({ ok: true, exitCode: 0 });
    expect(r!.outputTail).toContain("SIGKILL");
    expect(r!.durationMs).toBeLessThan(3_000);
    expect(await pending).toBe(502); // the balancer's answer for a backend that died before answering
    const version = (await fleet.control.instances("local")).find((i) => i.id === holder.id)!.deployedVersion;
    expect((await p.runHook("local", [holder.id], "start", { version }, { timeoutMs: 15_000 }))[0]?.ok).toBe(true);
    await waitFor(`${holder.id} in service`, async () => (await p.describeInstances("local")).find((x) => x.id === holder.id)?.state === "in-service");
  });

  it("backend-500 makes the app answer 500 (counted as the backend's), and clears", async () => {
    await fleet.control.injectFault({ kind: "backend-500", instanceId: "i-local-2" });
    const before = (await fleet.control.loadBalancer("local")).totals;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${fleet.lbUrl}/`)).status);
    const after = (await fleet.control.loadBalancer("local")).totals;
    expect(statuses.filter((s) => s === 500).length).toBe(2); // round-robin over 3: one in three
    expect(after.backend5xx - before.backend5xx).toBe(2);
    expect(after.lb5xx - before.lb5xx).toBe(0);
    await fleet.control.reset();
    for (let i = 0; i < 3; i++) expect((await fetch(`${fleet.lbUrl}/`)).status).toBe(200);
  });
});
