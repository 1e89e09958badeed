/** The local provider's transport errors: refused → UNAVAILABLE, no answer → TIMEOUT; a foreign LB name → NOT_FOUND. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { freePort } from "@/server/testing/ports";
import { ProviderError } from "@/server/providers/types";
import { createLocalProvider } from "./index";

let silent: http.Server;
let silentUrl: string;

beforeAll(async () => {
  // Accepts requests and never answers.
  silent = http.createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

afterAll(async () => {
  silent.closeAllConnections();
  await new Promise((r) => silent.close(r));
});

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe("local provider errors", () => {
  it("maps connection refused to a transient UNAVAILABLE", async () => {
    const p = createLocalProvider({ controlUrl: `http://127.0.0.1:${await freePort()}` });
    const err = await failure(p.describeInstances("local"));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.transient).toBe(true);
    expect(err.message).toContain("ECONNREFUSED");
  });

  it("maps no answer in time to a transient TIMEOUT", async () => {
    const p = createLocalProvider({ controlUrl: silentUrl, requestTimeoutMs: 200 });
    const err = await failure(p.deregister("local", ["i-local-1"]));
    expect(err.code).toBe("TIMEOUT");
    expect(err.transient).toBe(true);
  });

  it("times a hook out after its own timeout plus a margin, not the default", async () => {
    const p = createLocalProvider({ controlUrl: silentUrl, requestTimeoutMs: 100 });
    const started = Date.now();
    const err = await failure(p.runHook("local", ["i-local-1"], "verify", { version: "1.0.0" }, { timeoutMs: 100 }));
    expect(err.code).toBe("TIMEOUT");
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
  });

  it("refuses a load balancer that is not its own, without a call", async () => {
    const p = createLocalProvider({ controlUrl: `http://127.0.0.1:${await freePort()}` });
    expect((await failure(p.describeInstances("prod"))).code).toBe("NOT_FOUND");
    expect((await failure(p.deregister("local-public", ["i-local-1"]))).message).toContain('"local" or "local-internal"');
  });

  it("says which instances' memberships it could not tell, and which call failed", async () => {
    const p = createLocalProvider({ controlUrl: `http://127.0.0.1:${await freePort()}` });
    const err = await failure(p.memberships(["i-local-1", "i-local-2"]));
    expect(err.code).toBe("UNAVAILABLE");
    expect(err.message).toContain("cannot tell which load balancers i-local-1, i-local-2 are registered in");
    expect(err.message).toContain("GET /v1/memberships");
  });

  it.each([".", "..", "--force", "-rf", "1.0;touch /tmp/x", "$(id)", "v2\n"])("refuses the version %j before sending anything", async (version) => {
    let requests = 0;
    const counting = http.createServer((_req, res) => {
      requests++;
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((r) => counting.listen(0, "127.0.0.1", () => r()));
    try {
      const p = createLocalProvider({ controlUrl: `http://127.0.0.1:${(counting.address() as AddressInfo).port}` });
      const err = await failure(p.runHook("local", ["i-local-1"], "deploy", { version }, { timeoutMs: 1_000 }));
      expect(err.code).toBe("INVALID_INPUT");
      expect(requests).toBe(0);
    } finally {
      counting.closeAllConnections();
      await new Promise((r) => counting.close(r));
    }
  });
});
