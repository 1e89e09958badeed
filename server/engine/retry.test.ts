import { describe, expect, it } from "vitest";
import { ProviderError } from "@/server/providers/types";
import { backoffDelay, withRetry } from "./retry";

const policy = { attempts: 4, baseMs: 10, maxMs: 40 };

describe("withRetry", () => {
  it("retries transient errors up to the bound, announcing each retry", async () => {
    const notices: number[] = [];
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw new ProviderError("TIMEOUT", "slow");
      },
      { policy, onRetry: (n) => notices.push(n.attempt) },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(notices).toEqual([1, 2, 3]);
    expect(err).toMatchObject({ code: "TIMEOUT" });
  });

  it("does not retry a non-transient error, and returns the first success", async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new ProviderError("AUTH", "denied");
      }, { policy }),
    ).rejects.toThrow("denied");
    expect(calls).toBe(1);
    let n = 0;
    const v = await withRetry(async () => (++n < 3 ? Promise.reject(new ProviderError("THROTTLED", "Rate exceeded")) : "ok"), { policy });
    expect([v, n]).toEqual(["ok", 3]);
  });

  it("backs off exponentially with jitter, capped", () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(5);
    expect(backoffDelay(1, policy, () => 1)).toBe(10);
    expect(backoffDelay(2, policy, () => 1)).toBe(20);
    expect(backoffDelay(5, policy, () => 1)).toBe(40);
    expect(backoffDelay(5, policy, () => 0)).toBe(20);
  });
});
