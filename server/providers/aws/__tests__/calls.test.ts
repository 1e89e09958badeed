import { describe, expect, it } from "vitest";
import { AwsCaller, backoffDelay, errorCode, isThrottling } from "@/server/providers/aws/calls";
import { ProviderError } from "@/server/providers/types";

function sdkError(name: string, message: string, status = 400) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** The one fake in these tests: a client that is throttled `failures` times, then answers. */
function throttledClient(failures: number, error = sdkError("Throttling", "Rate exceeded")) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    async send(): Promise<{ ok: true }> {
      calls++;
      if (calls <= failures) throw error;
      return { ok: true };
    },
  };
}

const policy = { retries: 5, baseDelayMs: 100, maxDelayMs: 1_000 };

describe("throttling backoff", () => {
  it("backs off an emulated ThrottlingException a few times, then succeeds with no failure and a warning", async () => {
    const slept: number[] = [];
    const caller = new AwsCaller(policy, { sleep: async (ms) => void slept.push(ms), random: () => 0.5, now: () => 1_000 });
    const client = throttledClient(3, sdkError("ThrottlingException", "Rate exceeded"));
    await expect(caller.call("DescribeTargetHealth tg_web", () => client.send(), "tg_web")).resolves.toEqual({ ok: true });
    expect(client.calls).toBe(4);
    expect(slept).toEqual([50, 100, 200]);
    const warnings = caller.warnings();
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatchObject({ code: "THROTTLED", lb: "tg_web", at: 1_000 });
    expect(warnings[0]?.message).toMatch(/throttled/);
  });

  it("gives up after the bound with ProviderError THROTTLED (transient)", async () => {
    const caller = new AwsCaller({ ...policy, retries: 2 }, { sleep: async () => undefined });
    const client = throttledClient(10);
    const err: unknown = await caller.call("DescribeInstanceHealth web", () => client.send()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: "THROTTLED", transient: true });
    expect(client.calls).toBe(3);
  });

  it("does not retry what is not throttling", async () => {
    const caller = new AwsCaller(policy, { sleep: async () => undefined });
    const client = throttledClient(1, sdkError("AccessPointNotFoundException", "There is no ACTIVE Load Balancer named 'x'"));
    await expect(caller.call("DescribeInstanceHealth x", () => client.send())).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(client.calls).toBe(1);
    expect(caller.warnings()).toEqual([]);
  });

  it("keeps every delay within [0, min(max, base·2^attempt)] (full jitter)", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
      expect(backoffDelay(attempt, policy, () => 0)).toBe(0);
      expect(backoffDelay(attempt, policy, () => 0.999999)).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe("error codes", () => {
  it.each([
    [sdkError("Throttling", "Rate exceeded"), "THROTTLED"],
    [sdkError("SomethingElse", "Rate exceeded"), "THROTTLED"],
    [sdkError("RequestLimitExceeded", "Request limit exceeded."), "THROTTLED"],
    [sdkError("TargetGroupNotFoundException", "One or more target groups not found"), "NOT_FOUND"],
    [sdkError("CredentialsProviderError", "Could not load credentials from any providers"), "AUTH"],
    [sdkError("AccessDenied", "User is not authorized"), "AUTH"],
    [new Error("Region is missing"), "CONFIG"],
    [sdkError("InvalidTargetException", "The specified target does not exist"), "INVALID_INPUT"],
    [sdkError("InternalFailure", "boom", 503), "UNAVAILABLE"],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), "UNAVAILABLE"],
    [sdkError("Weird", "?"), "INTERNAL"],
  ] as const)("%s → %s", (err, code) => {
    expect(errorCode(err)).toBe(code);
  });

  it("explains missing credentials and region in words an operator can act on", async () => {
    const caller = new AwsCaller(policy);
    await expect(caller.call("DescribeLoadBalancers", () => Promise.reject(sdkError("CredentialsProviderError", "Could not load credentials from any providers")))).rejects.toThrow(
      /no AWS credentials found \(set AWS_PROFILE/,
    );
    await expect(caller.call("DescribeLoadBalancers", () => Promise.reject(new Error("Region is missing")))).rejects.toThrow(/no AWS region configured/);
    expect(isThrottling(sdkError("X", "y", 429))).toBe(true);
  });
});
