/**
 * The version hook of the shared hook script, run for real with `sh` (as SSM's runShellScript runs
 * it) against a real HTTP server standing in for the instance's version URL.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apacheHookScript } from "@/server/providers/hook-script";
import { parseHookVersion } from "@/server/providers/aws/reshape";

let server: Server;
let base: string;
let dir: string;
let answer = { status: 200, body: '{"version": "2.3.1", "pid": 42}' };

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(answer.status, { "content-type": "application/json" });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(path.join(tmpdir(), "rotor-hook-"));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the script as SSM would: parameters as environment variables only. */
function runScript(script: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = path.join(dir, `hook-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { NODE_ENV: "test", PATH: process.env.PATH ?? "/usr/bin:/bin", ...env };
    const child = spawn("sh", [file], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the version hook", () => {
  it("prints the version the instance's version URL answers (JSON or bare), for Rotor to read", async () => {
    answer = { status: 200, body: '{"version": "2.3.1", "pid": 42}' };
    const json = await runScript(apacheHookScript(), { SSM_Hook: "version", SSM_Version: "none", ROTOR_VERSION_URL: `${base}/version` });
    expect(json).toMatchObject({ code: 0, stdout: "rotor-version=2.3.1\n" });
    expect(parseHookVersion(json.stdout)).toBe("2.3.1");
    answer = { status: 200, body: "release-7\n" };
    const bare = await runScript(apacheHookScript(), { SSM_Hook: "version", SSM_Version: "none", ROTOR_VERSION_URL: `${base}/version` });
    expect(bare).toMatchObject({ code: 0, stdout: "rotor-version=release-7\n" });
  });

  it("fails, naming the URL, when the instance does not answer", async () => {
    answer = { status: 503, body: "starting" };
    const down = await runScript(apacheHookScript(), { SSM_Hook: "version", SSM_Version: "none", ROTOR_VERSION_URL: `${base}/version` });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`version check ${base}/version failed`);
    expect(parseHookVersion(down.stdout)).toBeNull();
  });

  it("runs a configured command instead (e.g. reading a VERSION file), whose bare output Rotor reads", async () => {
    const file = path.join(dir, "VERSION");
    writeFileSync(file, "4.0.0-rc.1\n");
    const script = apacheHookScript({ hooks: { version: `cat "$ROTOR_TEST_VERSION_FILE"` } });
    const out = await runScript(script, { SSM_Hook: "version", SSM_Version: "none", ROTOR_TEST_VERSION_FILE: file });
    expect(out).toMatchObject({ code: 0, stdout: "4.0.0-rc.1\n" });
    expect(parseHookVersion(out.stdout)).toBe("4.0.0-rc.1");
  });

  it("reads nothing that is not a version", () => {
    expect(parseHookVersion("")).toBeNull();
    expect(parseHookVersion("1.2; rm -rf /\n")).toBeNull();
    expect(parseHookVersion("noise\nrotor-version=1.0.0\n--- stderr ---\nwarning: x")).toBe("1.0.0");
    expect(parseHookVersion("2.0.0\n--- stderr ---\nsomething")).toBe("2.0.0");
  });
});
