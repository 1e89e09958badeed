import { describe, expect, it } from "vitest";
import { AwsCaller, errorCode, isThrottling, permissionFor } from "@/server/providers/aws/calls";
import { ProviderError } from "@/server/providers/types";

function sdkError(name: string, message: string, status = 400) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** The one fake in these tests: a client that fails `failures` times with `error`, then answers. */
function failingClient(failures: number, error: unknown) {
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

describe("one call, no loop of its own", () => {
  it("turns a throttle the SDK could not get past into a transient THROTTLED at once, with a warning", async () => {
    const caller = new AwsCaller({ now: () => 1_000 });
    const client = failingClient(10, Object.assign(sdkError("Throttling", "Rate exceeded"), { $metadata: { httpStatusCode: 400, attempts: 3 } }));
    const err: unknown = await caller.call("DescribeInstanceHealth web", () => client.send(), "web").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: "THROTTLED", transient: true, message: expect.stringContaining("after 3 attempts") });
    // The SDK made its attempts; the engine's retry decides on more. Nothing here tries again.
    expect(client.calls).toBe(1);
    expect(caller.warnings()).toEqual([expect.objectContaining({ code: "THROTTLED", lb: "web", at: 1_000 })]);
  });

  it("does not retry what is not throttling either", async () => {
    const caller = new AwsCaller();
    const client = failingClient(1, sdkError("AccessPointNotFoundException", "There is no ACTIVE Load Balancer named 'x'"));
    await expect(caller.call("DescribeInstanceHealth x", () => client.send())).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(client.calls).toBe(1);
    expect(caller.warnings()).toEqual([]);
  });

  it("records each throttled attempt the SDK reports as a warning", () => {
    const caller = new AwsCaller({ now: () => 5 });
    caller.throttled({ operation: "DescribeTargetHealth", attempt: 1 });
    expect(caller.warnings()).toEqual([{ at: 5, code: "THROTTLED", message: expect.stringMatching(/DescribeTargetHealth: AWS throttled attempt 1/) }]);
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
    const caller = new AwsCaller();
    await expect(caller.call("DescribeLoadBalancers", () => Promise.reject(sdkError("CredentialsProviderError", "Could not load credentials from any providers")))).rejects.toThrow(
      /no AWS credentials found \(set AWS_PROFILE/,
    );
    await expect(caller.call("DescribeLoadBalancers", () => Promise.reject(new Error("Region is missing")))).rejects.toThrow(/no AWS region configured/);
    expect(isThrottling(sdkError("X", "y", 429))).toBe(true);
  });
});

describe("credential and permission problems say what to fix", () => {
  const refuse = (what: string, err: unknown) => new AwsCaller().call(what, () => Promise.reject(err)).catch((e: unknown) => e as ProviderError);

  it.each([
    ["CredentialsProviderError", "Could not load credentials from any providers", /AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
    ["ExpiredToken", "The security token included in the request is expired", /expired: renew them \(a new AWS_SESSION_TOKEN/],
    ["ExpiredTokenException", "The security token included in the request is expired", /AWS_SESSION_TOKEN/],
    ["UnrecognizedClientException", "The security token included in the request is invalid.", /does not recognise the credentials \(UnrecognizedClientException\): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/],
    ["InvalidClientTokenId", "The security token included in the request is invalid.", /check AWS_ACCESS_KEY_ID/],
    ["AccessDenied", "User: arn:aws:iam::1:user/rotor is not authorized to perform: elasticloadbalancing:DescribeLoadBalancers", /refused permission elasticloadbalancing:DescribeLoadBalancers .*allow it in the IAM policy/],
  ])("%s → AUTH naming the fix", async (name, message, fix) => {
    const err = await refuse("DescribeLoadBalancers", sdkError(name, message, 403));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: "AUTH", transient: false });
    expect(err.message).toMatch(/^DescribeLoadBalancers failed: /);
    expect(err.message).toMatch(fix);
  });

  it("names the IAM action from AWS's refusal, else from the call", () => {
    expect(permissionFor("SendCommand deploy (3 instances)", "AccessDeniedException: not authorized")).toBe("ssm:SendCommand");
    expect(permissionFor("DescribeInstances (6 ids)", "You are not authorized to perform this operation.")).toBe("ec2:DescribeInstances");
    expect(permissionFor("CreateTags rotor:version=2", "UnauthorizedOperation")).toBe("ec2:CreateTags");
    expect(permissionFor("DescribeTargetHealth tg_web", "denied")).toBe("elasticloadbalancing:DescribeTargetHealth");
    expect(permissionFor("DescribeAutoScalingGroups web-asg", "denied")).toBe("autoscaling:DescribeAutoScalingGroups");
    expect(permissionFor("DescribeLaunchTemplateVersions lt-1 2", "UnauthorizedOperation")).toBe("ec2:DescribeLaunchTemplateVersions");
    expect(permissionFor("DescribeImages ami-1", "UnauthorizedOperation")).toBe("ec2:DescribeImages");
    expect(permissionFor("DescribeAlarms web-5xx", "AccessDenied")).toBe("cloudwatch:DescribeAlarms");
    expect(permissionFor("GetMetricData AWS/ApplicationELB tg_web", "AccessDenied")).toBe("cloudwatch:GetMetricData");
    expect(permissionFor("x", "User u is not authorized to perform: ssm:GetCommandInvocation on resource")).toBe("ssm:GetCommandInvocation");
  });
});
