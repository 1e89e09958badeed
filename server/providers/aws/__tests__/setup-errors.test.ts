/**
 * What an operator sees when AWS itself is not set up: readable ProviderErrors (CONFIG for the
 * region, AUTH for credentials) from the real SDK chain, which the dashboard shows as they are.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createAwsProvider } from "@/server/providers/aws";
import { freePort } from "@/server/testing/ports";

beforeEach(() => {
  // A machine with no AWS set-up at all: no env credentials, no profile files, no instance metadata.
  for (const key of ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]) {
    vi.stubEnv(key, undefined);
  }
  vi.stubEnv("AWS_CONFIG_FILE", "/nonexistent/rotor-aws-config");
  vi.stubEnv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/rotor-aws-credentials");
  vi.stubEnv("AWS_EC2_METADATA_DISABLED", "true");
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe("AWS not set up", () => {
  it("says no region is configured", async () => {
    const provider = createAwsProvider({});
    await expect(provider.listLoadBalancers()).rejects.toMatchObject({ code: "CONFIG", message: expect.stringContaining("no AWS region configured (set AWS_REGION") });
    await provider.close();
  });

  it("says no credentials were found, before any request leaves the machine", async () => {
    const provider = createAwsProvider({ region: "eu-west-1", endpoint: `http://127.0.0.1:${await freePort()}` });
    await expect(provider.listLoadBalancers()).rejects.toMatchObject({ code: "AUTH", message: expect.stringContaining("no AWS credentials found") });
    await provider.close();
  });

  it("says the endpoint is unreachable as a transient UNAVAILABLE", async () => {
    const provider = createAwsProvider({ region: "eu-west-1", endpoint: `http://127.0.0.1:${await freePort()}`, maxAttempts: 1 }, { credentials: { accessKeyId: "x", secretAccessKey: "y" } });
    await expect(provider.describeInstances("web")).rejects.toMatchObject({ code: "UNAVAILABLE", transient: true });
    await provider.close();
  });
});
