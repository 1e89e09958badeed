/**
 * A terminated instance leaves the balancer for good (Balancer.remove): refused while it is registered or
 * has requests in flight, so a removal never cuts a request; afterwards the balancer no longer knows it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Balancer } from "../balancer";
import { waitFor } from "./procedure";

let backend: http.Server;
let balancer: Balancer;
let lbPort: number;
let release: (() => void) | null = null;

beforeAll(async () => {
  backend = http.createServer((req, res) => {
    if (req.url === "/hold") release = () => res.end("held");
    else res.end("ok");
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", () => r()));
  balancer = new Balancer({ port: 0, healthCheck: { intervalMs: 50, timeoutMs: 40, healthyThreshold: 1, unhealthyThreshold: 1 } });
  lbPort = await balancer.listen();
  balancer.upsert({ id: "i-local-9", zone: "local-a", port: (backend.address() as AddressInfo).port });
});

afterAll(async () => {
  await balancer.close();
  await new Promise<void>((r) => backend.close(() => r()));
});

describe("Balancer.remove", () => {
  it("is refused while registered or draining, and forgets the backend once drained", async () => {
    balancer.register(["i-local-9"]);
    await waitFor("in service", async () => balancer.describe()[0]?.state === "in-service");
    expect(() => balancer.remove("i-local-9")).toThrow("cannot remove i-local-9: it is still registered");

    const held = fetch(`http://127.0.0.1:${lbPort}/hold`).then((r) => r.text());
    await waitFor("a request in flight", async () => balancer.describe()[0]?.inFlight === 1);
    balancer.deregister(["i-local-9"]);
    expect(() => balancer.remove("i-local-9")).toThrow("cannot remove i-local-9: it is still draining");
    release?.();
    expect(await held).toBe("held");
    await waitFor("drained", async () => balancer.describe()[0]?.state === "out-of-service");

    balancer.remove("i-local-9");
    expect(balancer.has("i-local-9")).toBe(false);
    expect(balancer.describe()).toEqual([]);
    balancer.remove("i-local-9");
  });
});
