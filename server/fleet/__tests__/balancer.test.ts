/**
 * The balancer's failure behaviour on the real local fleet: a backend dying mid-request yields a 502
 * counted as produced by the balancer; a client disconnecting mid-response crashes nothing and leaks
 * no in-flight count; bodies stream both ways; no backend in service is a 503 from the balancer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import { hook, waitFor } from "./procedure";

let fleet: LocalFleetHandle;
let dataDir: string;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  complete: boolean;
  error?: string;
}

function request(method: string, urlPath: string, body?: Buffer, onFirstChunk?: (req: http.ClientRequest) => void): Promise<Answer> {
  return new Promise((resolve) => {
    let responded = false;
    const req = http.request({ host: "127.0.0.1", port: fleet.lbPort, method, path: urlPath, agent: false }, (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      let first = true;
      res.on("data", (c: Buffer) => {
        chunks.push(c);
        if (first && onFirstChunk) onFirstChunk(req);
        first = false;
      });
      const done = (error?: string) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete, error });
      res.on("end", () => done());
      res.on("error", (e) => done(e.message));
      res.on("close", () => done(res.complete ? undefined : "closed"));
    });
    req.on("error", (e) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), complete: false, error: e.message }));
    req.on("close", () => {
      if (!responded) resolve({ status: 0, headers: {}, body: Buffer.alloc(0), complete: false, error: "request closed" });
    });
    if (body) {
      // Send the body in pieces so it streams rather than arrives at once.
      let off = 0;
      const pump = () => {
        if (off >= body.length) return req.end();
        req.write(body.subarray(off, off + 64 * 1024), pump);
        off += 64 * 1024;
      };
      pump();
    } else req.end();
  });
}

async function holderOf(): Promise<{ id: string; pid: number }> {
  const i = await waitFor("a request in flight", async () => (await fleet.control.instances(fleet.lbName)).find((x) => (x.inFlight ?? 0) > 0));
  return { id: i.id, pid: i.pid! };
}

async function allIdle() {
  return waitFor("no request in flight", async () => (await fleet.control.instances(fleet.lbName)).every((i) => i.inFlight === 0));
}

async function restart(id: string) {
  await waitFor(`${id} exited`, async () => !(await fleet.control.instances(fleet.lbName)).find((i) => i.id === id)?.running);
  await hook(fleet.provider, fleet.lbName, id, "start", "1.0.0");
  await waitFor(`${id} in service`, async () => (await fleet.control.instances(fleet.lbName)).find((i) => i.id === id)?.state === "in-service");
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-lb-"));
  fleet = await startLocalFleet({ instances: 2, dataDir });
});

afterAll(async () => {
  await fleet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("balancer failures", () => {
  it("answers 502 when the backend dies mid-request, and counts it as the balancer's own", async () => {
    const before = (await fleet.control.loadBalancer(fleet.lbName)).totals;
    const pending = request("GET", "/slow?ms=5000");
    const { id, pid } = await holderOf();
    process.kill(pid, "SIGKILL");
    const res = await pending;
    expect(res.status).toBe(502);
    expect(res.headers["x-rotor-lb-error"]).toBe("1");
    expect(JSON.parse(res.body.toString()).producedBy).toBe("rotor-lb");
    const after = (await fleet.control.loadBalancer(fleet.lbName)).totals;
    expect(after.lb5xx - before.lb5xx).toBe(1);
    expect(after.backend5xx - before.backend5xx).toBe(0);
    const inst = (await fleet.control.instances(fleet.lbName)).find((i) => i.id === id)!;
    expect(inst.counters.lb5xx).toBeGreaterThanOrEqual(1);
    expect(inst.inFlight).toBe(0);
    await restart(id);
  });

  it("cuts the client response when the backend dies mid-body, and keeps serving", async () => {
    let killed: Promise<void> | null = null;
    const res = await request("GET", "/stream?chunks=40&intervalMs=100", undefined, () => {
      killed = holderOf().then(({ pid }) => void process.kill(pid, "SIGKILL"));
    });
    await killed;
    expect(res.status).toBe(200);
    expect(res.complete).toBe(false);
    await allIdle();
    const next = await request("GET", "/");
    expect(next.status).toBe(200);
    const dead = (await fleet.control.instances(fleet.lbName)).find((i) => !i.running);
    if (dead) await restart(dead.id);
  });

  it("survives a client that disconnects mid-response or before the answer, with no in-flight leak", async () => {
    const before = (await fleet.control.loadBalancer(fleet.lbName)).totals;
    const cut = await request("GET", "/stream?chunks=40&intervalMs=50", undefined, (req) => req.destroy());
    expect(cut.complete).toBe(false);

    const abort = new AbortController();
    const aborted = new Promise<string>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port: fleet.lbPort, path: "/slow?ms=3000", agent: false, signal: abort.signal });
      req.on("error", (e) => resolve(e.name));
    });
    await holderOf();
    abort.abort();
    expect(await aborted).toBe("AbortError");

    await allIdle();
    const after = (await fleet.control.loadBalancer(fleet.lbName)).totals;
    expect(after.clientAborts - before.clientAborts).toBe(2);
    expect(after.inFlight).toBe(0);
    const ok = await request("GET", "/version");
    expect(ok.status).toBe(200);
    expect((await fleet.control.instances(fleet.lbName)).every((i) => i.running && i.state === "in-service")).toBe(true);
  });

  it("never passes a stopping backend's Connection: close on to the client", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const answer = new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ host: "127.0.0.1", port: fleet.lbPort, path: "/slow?ms=1500", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(res));
        }).on("error", reject);
      });
      const { id } = await holderOf();
      // The naive stop, on purpose: the backend answers its last request with Connection: close.
      const stopping = hook(fleet.provider, fleet.lbName, id, "stop", "1.0.0");
      const res = await answer;
      expect(res.statusCode).toBe(200);
      expect(res.headers.connection).toBe("keep-alive");
      await stopping;
      await restart(id);
    } finally {
      agent.destroy();
    }
  });

  it("completes a request slower than the upstream idle-socket timeout (4 s)", async () => {
    const res = await request("GET", "/slow?ms=4500");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).sleptMs).toBe(4500);
  });

  it("streams request and response bodies both ways", async () => {
    const body = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;
    const res = await request("POST", "/echo", body);
    expect(res.status).toBe(200);
    expect(res.body.equals(body)).toBe(true);
  });

  it("answers 503 from the balancer when no backend is in service", async () => {
    const ids = (await fleet.control.instances(fleet.lbName)).map((i) => i.id);
    await fleet.control.deregister(fleet.lbName, ids);
    try {
      const before = (await fleet.control.loadBalancer(fleet.lbName)).totals;
      const res = await request("GET", "/");
      expect(res.status).toBe(503);
      const after = (await fleet.control.loadBalancer(fleet.lbName)).totals;
      expect(after.noBackend503 - before.noBackend503).toBe(1);
    } finally {
      await fleet.control.register(fleet.lbName, ids);
      await waitFor("all in service", async () => (await fleet.control.instances(fleet.lbName)).every((i) => i.state === "in-service"));
    }
  });
});
