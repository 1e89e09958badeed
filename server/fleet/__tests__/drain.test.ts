/**
 * Connection draining on the real local fleet: a drain ends as soon as the last in-flight request
 * completes (not at the timeout), the drain timeout is honoured when a request outlives it (and that
 * request's fate is reported), and client keep-alive connections are untouched by a drain.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLocalFleet, type LocalFleetHandle } from "../testing";
import type { ControlInstance } from "../protocol";
import { waitFor } from "./procedure";

let fleet: LocalFleetHandle;
let dataDir: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

interface Answer {
  status: number;
  body: string;
  instance: string | undefined;
  doneAt: number;
  reusedSocket: boolean;
  error?: string;
}

function get(urlPath: string, a: http.Agent = agent): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port: fleet.lbPort, path: urlPath, agent: a }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, instance: res.headers["x-rotor-instance"] as string | undefined, doneAt: Date.now(), reusedSocket: req.reusedSocket }));
      res.on("error", (err) => resolve({ status: res.statusCode ?? 0, body, instance: undefined, doneAt: Date.now(), reusedSocket: req.reusedSocket, error: err.message }));
    });
    req.on("error", (err) => resolve({ status: 0, body: "", instance: undefined, doneAt: Date.now(), reusedSocket: req.reusedSocket, error: err.message }));
  });
}

async function byId(id: string): Promise<ControlInstance> {
  const i = (await fleet.control.instances(fleet.lbName)).find((x) => x.id === id);
  if (!i) throw new Error(`no ${id}`);
  return i;
}

/** Starts a slow request and answers which instance holds it once the balancer counts it in flight. */
async function slowOnSomeInstance(ms: number): Promise<{ id: string; answer: Promise<Answer> }> {
  const answer = get(`/slow?ms=${ms}`);
  const holder = await waitFor("the slow request in flight", async () => (await fleet.control.instances(fleet.lbName)).find((i) => i.inFlight === 1));
  return { id: holder.id, answer };
}

async function restore(id: string) {
  await fleet.control.register(fleet.lbName, [id]);
  await waitFor(`${id} in service`, async () => (await byId(id)).state === "in-service");
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), "rotor-drain-"));
  fleet = await startLocalFleet({ instances: 2, dataDir, drainTimeoutMs: 30_000 });
});

afterAll(async () => {
  agent.destroy();
  await fleet?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("connection draining", () => {
  it("reads 'deregistration in progress' while a request is in flight and ends within 200 ms of its completion", async () => {
    await get("/"); // open the client's keep-alive connection
    const { id, answer } = await slowOnSomeInstance(1_200);
    await fleet.control.deregister(fleet.lbName, [id]);
    const draining = await byId(id);
    expect(draining.state).toBe("draining");
    expect(draining.description).toBe("Instance deregistration currently in progress.");
    expect(draining.inFlight).toBe(1);

    const done = await answer;
    expect(done.status).toBe(200);
    expect(done.reusedSocket).toBe(true);
    const drained = await waitFor(`${id} drained`, async () => {
      const i = await byId(id);
      return i.state === "out-of-service" ? i : undefined;
    });
    expect(drained.description).toBe("Instance is not currently registered with the LoadBalancer.");
    const d = drained.lastDrain!;
    console.info(`drain of ${id}: ${JSON.stringify(d)}; client saw the response end at ${done.doneAt}`);
    expect(d.reason).toBe("in-flight-zero");
    expect(d.inFlightAtStart).toBe(1);
    // Measured by the balancer itself: from the last request's completion to the end of the drain.
    expect(d.endedAt! - d.lastRequestDoneAt!).toBeLessThanOrEqual(200);
    // And as the client saw it (same host clock): the drain ended within 200 ms of the response arriving.
    expect(d.endedAt! - done.doneAt).toBeLessThanOrEqual(200);
    // The drain waited for the request: it did not end at deregistration.
    expect(d.lastRequestDoneAt!).toBeGreaterThanOrEqual(d.startedAt);
    // The client's keep-alive connection was untouched: the next request reuses it, served by the other instance.
    const next = await get("/");
    expect(next.status).toBe(200);
    expect(next.reusedSocket).toBe(true);
    expect(next.instance).not.toBe(id);
    await restore(id);
  });

  it("honours the drain timeout when a request outlives it, and reports that request's fate", async () => {
    await fleet.control.settings(fleet.lbName, { drainTimeoutMs: 800 });
    try {
      const { id, answer } = await slowOnSomeInstance(5_000);
      const t0 = Date.now();
      await fleet.control.deregister(fleet.lbName, [id]);
      const cut = await answer;
      const drained = await waitFor(`${id} drained`, async () => {
        const i = await byId(id);
        return i.state === "out-of-service" ? i : undefined;
      });
      const d = drained.lastDrain!;
      console.info(`drain timeout on ${id}: the request outliving it got HTTP ${cut.status} ${cut.body} after ${cut.doneAt - t0} ms; drain record ${JSON.stringify(d)}`);
      expect(d.reason).toBe("timeout");
      expect(d.endedAt! - d.startedAt).toBeGreaterThanOrEqual(800);
      expect(d.endedAt! - d.startedAt).toBeLessThan(5_000);
      expect(d.cut).toEqual({ count: 1, fate: ["answered 504 by the balancer"] });
      expect(cut.status).toBe(504);
      expect(drained.counters.drainCut).toBe(1);
      await restore(id);
    } finally {
      await fleet.control.settings(fleet.lbName, { drainTimeoutMs: 30_000 });
    }
  });

  it("fault slow-drain holds a request open, so the drain lasts until it completes", async () => {
    await fleet.control.injectFault({ kind: "slow-drain", instanceId: "i-local-2", holdMs: 1_000 });
    await fleet.control.deregister(fleet.lbName, ["i-local-2"]);
    const during = await byId("i-local-2");
    expect(during.state).toBe("draining");
    expect(during.inFlight).toBe(1);
    const drained = await waitFor("i-local-2 drained", async () => {
      const i = await byId("i-local-2");
      return i.state === "out-of-service" ? i : undefined;
    });
    expect(drained.lastDrain?.reason).toBe("in-flight-zero");
    expect(drained.lastDrain!.endedAt! - drained.lastDrain!.startedAt).toBeGreaterThanOrEqual(900);
    expect(await fleet.control.faults()).toEqual([]); // one-shot
    await restore("i-local-2");
  });
});
