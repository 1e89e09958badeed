import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAwsConfig } from "@/server/providers/aws/config";
import { hookDocument } from "@/server/providers/aws/ssm";
import { providerConfigError, providerName } from "@/server/providers";

const dir = mkdtempSync(path.join(tmpdir(), "rotor-aws-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("AWS configuration", () => {
  it("defaults to every load balancer, the SDK's adaptive retries and the Apache hooks", () => {
    const c = loadAwsConfig({});
    expect(c.loadBalancers).toBeNull();
    expect(c).toMatchObject({ retryMode: "adaptive", maxAttempts: 3, documentName: "Rotor-RunHook", manageDocument: true, versionTag: "rotor:version" });
    // No command configured: the document runs the shared script's built-in Apache hooks.
    expect(c.hooks).toEqual({});
  });

  it("reads the environment, which wins over the JSON file", () => {
    const file = path.join(dir, "rotor-aws.json");
    writeFileSync(file, JSON.stringify({ loadBalancers: ["from-file"], hooks: { deploy: "/opt/deploy.sh \"$SSM_Version\"" }, inFlightCommand: "ss -Htn state established '( sport = :80 )' | wc -l" }));
    const c = loadAwsConfig({
      ROTOR_AWS_CONFIG: file,
      ROTOR_AWS_LOAD_BALANCERS: "web, tg_web-tg",
      AWS_REGION: "eu-west-1",
      AWS_ENDPOINT_URL: "http://127.0.0.1:5000",
      ROTOR_AWS_RETRY_MODE: "adaptive",
      ROTOR_AWS_MAX_ATTEMPTS: "5",
      ROTOR_AWS_HOOK_STOP: "systemctl stop httpd",
    });
    expect(c).toMatchObject({ loadBalancers: ["web", "tg_web-tg"], region: "eu-west-1", endpoint: "http://127.0.0.1:5000", retryMode: "adaptive", maxAttempts: 5 });
    expect(c.hooks.stop).toBe("systemctl stop httpd");
    expect(c.hooks.deploy).toBe('/opt/deploy.sh "$SSM_Version"');
    expect(c.inFlightCommand).toContain("wc -l");
  });

  it.each([
    [{ ROTOR_AWS_LOAD_BALANCERS: "web,bad name" }, /loadBalancers/],
    [{ ROTOR_AWS_MAX_ATTEMPTS: "0" }, /maxAttempts/],
    [{ ROTOR_AWS_RETRY_MODE: "legacy" }, /retryMode/],
    [{ AWS_ENDPOINT_URL: "not a url" }, /endpoint/],
    [{ ROTOR_AWS_MANAGE_DOCUMENT: "maybe" }, /ROTOR_AWS_MANAGE_DOCUMENT/],
    [{ ROTOR_AWS_CONFIG: "/nonexistent/rotor.json" }, /cannot read/],
  ])("refuses %o with a CONFIG error naming the setting", (env, message) => {
    expect(() => loadAwsConfig(env)).toThrow(message);
    expect(() => loadAwsConfig(env)).toThrow(expect.objectContaining({ code: "CONFIG" }));
  });

  it("puts hook commands from configuration into the document, never a version", () => {
    const doc = JSON.stringify(hookDocument(loadAwsConfig({ ROTOR_AWS_HOOK_DEPLOY: "/opt/deploy \"$SSM_Version\"" })));
    expect(doc).toContain("/opt/deploy");
    expect(doc).toContain("apachectl");
    expect(doc).toContain("graceful-stop");
    expect(doc).toContain('"interpolationType":"ENV_VAR"');
    expect(doc).not.toContain("{{");
  });
});

describe("provider selection", () => {
  it("is local by default, aws on request, and a CONFIG error otherwise", () => {
    expect(providerName({})).toBe("local");
    expect(providerName({ ROTOR_PROVIDER: "AWS" })).toBe("aws");
    expect(() => providerName({ ROTOR_PROVIDER: "gcp" })).toThrow(/must be "local" or "aws"/);
  });
  it("reports configuration problems as a sentence, or null", () => {
    expect(providerConfigError({})).toBeNull();
    expect(providerConfigError({ ROTOR_PROVIDER: "aws" })).toBeNull();
    expect(providerConfigError({ ROTOR_PROVIDER: "gcp" })).toMatch(/ROTOR_PROVIDER/);
    expect(providerConfigError({ ROTOR_PROVIDER: "aws", ROTOR_AWS_MAX_ATTEMPTS: "99" })).toMatch(/Invalid AWS provider configuration: ROTOR_AWS_MAX_ATTEMPTS \(maxAttempts\): .*restart Rotor/);
  });
});
