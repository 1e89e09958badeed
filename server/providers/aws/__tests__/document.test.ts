/**
 * The Rotor-RunHook script, taken from the generated document itself and executed for real with `sh`
 * the way the SSM agent runs it under `interpolationType: ENV_VAR` (parameters as SSM_<name>
 * environment variables): by the local fleet's executor, against a real Apache httpd + mod_perl.
 * moto runs no command, so this is where the script itself is shown to work, and to treat the
 * version as data.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAwsConfig } from "@/server/providers/aws/config";
import { hookDocument } from "@/server/providers/aws/ssm";
import { parseObservedVersion } from "@/server/providers/aws/reshape";
import { freePort } from "@/server/testing/ports";
import { runHookScript } from "@/server/fleet/apache/executor";
import { apacheInstance, type ApacheInstanceHandle } from "@/server/fleet/apache/testing";

let server: http.Server;
let port: number;
let served = "1.2.3";
const dir = mkdtempSync(path.join(tmpdir(), "rotor-doc-"));

beforeAll(async () => {
  port = await freePort();
  server = http.createServer((req, res) => {
    if (req.url === "/health") return void res.end("ok");
    if (req.url === "/version") return void res.end(`${served}\n`);
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function script(env: Record<string, string>): string {
  const doc = hookDocument(loadAwsConfig(env)) as { mainSteps: { inputs: { runCommand: string[] } }[] };
  const lines = doc.mainSteps[0]?.inputs.runCommand;
  if (!lines) throw new Error("document has no runCommand");
  return lines.join("\n");
}

/** Async, so this process's HTTP server can answer the script's curl. */
function run(env: Record<string, string>, ssm: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(childEnv)) if (key.startsWith("SSM_")) delete childEnv[key];
    Object.assign(childEnv, ssm);
    const child = spawn("sh", ["-c", script(env)], { env: childEnv, timeout: 15_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const urls = () => ({ ROTOR_AWS_HEALTH_URL: `http://127.0.0.1:${port}/health`, ROTOR_AWS_VERSION_URL: `http://127.0.0.1:${port}/version` });

describe("the Rotor-RunHook script", () => {
  it("runs the configured command of the hook named by SSM_Hook, with the version from SSM_Version", async () => {
    const env = { ROTOR_AWS_HOOK_DEPLOY: 'printf "deploying %s\\n" "$SSM_Version"', ROTOR_AWS_HOOK_STOP: "echo stopping" };
    expect(await run(env, { SSM_Hook: "deploy", SSM_Version: "2.0.1" })).toMatchObject({ code: 0, stdout: "deploying 2.0.1\n" });
    expect(await run(env, { SSM_Hook: "stop", SSM_Version: "none" })).toMatchObject({ code: 0, stdout: "stopping\n" });
  });

  it("refuses a version that is not a plain release name before running any command", async () => {
    const marker = path.join(dir, "pwned");
    const hostile = `1.2; touch ${marker} $(touch ${marker}) \`touch ${marker}\``;
    const r = await run({ ROTOR_AWS_HOOK_DEPLOY: `touch ${marker}.deployed` }, { SSM_Hook: "deploy", SSM_Version: hostile });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain("refusing version");
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(`${marker}.deployed`)).toBe(false);
  });

  it.each([".", "..", "--force", "-rf", "1.0;touch /tmp/x", "$(id)", "v2\nv3", "v2\n", "é1", "a".repeat(129)])(
    "refuses the version %j with exit 64 (refused, nothing changed) before the deploy command runs",
    async (version) => {
      const r = await run({ ROTOR_AWS_HOOK_DEPLOY: "echo DEPLOYED" }, { SSM_Hook: "deploy", SSM_Version: version });
      expect(r.code).toBe(64);
      expect(r.stdout).not.toContain("DEPLOYED");
    },
  );

  it.each(["1", "2.0.0-rc.1+build_7", "a".repeat(128)])("accepts the version %j", async (version) => {
    expect(await run({ ROTOR_AWS_HOOK_DEPLOY: "echo DEPLOYED" }, { SSM_Hook: "deploy", SSM_Version: version })).toMatchObject({ code: 0, stdout: "DEPLOYED\n" });
  });

  it("verifies health and the served version with curl, printing what it saw", async () => {
    served = "1.2.3";
    const ok = await run(urls(), { SSM_Hook: "verify", SSM_Version: "1.2.3" });
    expect(ok.code).toBe(0);
    expect(parseObservedVersion(ok.stdout)).toBe("1.2.3");
    const wrong = await run(urls(), { SSM_Hook: "verify", SSM_Version: "1.2.4", ROTOR_VERIFY_WARMUP: "1" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("expected version 1.2.4, instance serves 1.2.3");
    const down = await run({ ...urls(), ROTOR_AWS_HEALTH_URL: `http://127.0.0.1:${port}/missing` }, { SSM_Hook: "verify", SSM_Version: "1.2.3", ROTOR_VERIFY_WARMUP: "1" });
    expect(down.code).not.toBe(0);
  });

  it("refuses to run when the agent did not pass the parameters as environment variables", async () => {
    expect(await run({}, {})).toMatchObject({ code: 3 });
    expect((await run({}, { SSM_Hook: "deploy" })).stderr).toContain("3.3.2746.0");
  });

  it("fails clearly for a hook with no command", async () => {
    const r = await run({}, { SSM_Hook: "probe", SSM_Version: "none" });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain("no probe command configured");
  });
});

describe("the document's script on a real Apache httpd + mod_perl, through the local executor", () => {
  let apache: ApacheInstanceHandle;
  const appDir = () => path.join(apache.fleetDir, "apache", apache.id);
  // The script exactly as the document carries it, with the default configuration.
  const docScript = () => script({});
  const hook = (h: "stop" | "deploy" | "start" | "verify", version: string) =>
    runHookScript({ script: docScript(), hook: h, version, env: { ...apache.env, ROTOR_VERIFY_WARMUP: "10" }, timeoutMs: 30_000 });

  beforeAll(async () => {
    apache = await apacheInstance({ dataDir: path.join(dir, "apache"), versions: ["1.0.0", "2.0.0"] });
  }, 30_000);
  afterAll(async () => {
    await apache?.stop();
  });

  it("starts, stops only once the old parent is gone, deploys through `current` and verifies the new version", async () => {
    const started = await hook("start", "none");
    expect(started.exitCode, started.stderr).toBe(0);
    const first = await apache.pid();
    expect(first).not.toBeNull();
    expect((await hook("verify", "1.0.0")).stdout).toContain("rotor-version=1.0.0");

    // A request in flight when the stop begins completes, and the stop returns only after it.
    const slow = fetch(`http://127.0.0.1:${apache.port}/slow?ms=1500`).then(async (r) => ({ status: r.status, body: (await r.json()) as { version: string } }));
    await new Promise((r) => setTimeout(r, 300));
    const stopped = await hook("stop", "none");
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`parent pid ${first} exited`);
    expect(await apache.pid()).toBeNull();
    await expect(slow).resolves.toEqual({ status: 200, body: expect.objectContaining({ version: "1.0.0" }) });

    const deployed = await hook("deploy", "2.0.0");
    expect(deployed.exitCode, deployed.stderr).toBe(0);
    expect(readlinkSync(path.join(appDir(), "current"))).toBe("releases/2.0.0");
    expect((await hook("start", "none")).exitCode).toBe(0);
    const verified = await hook("verify", "2.0.0");
    expect(verified.exitCode, verified.stderr).toBe(0);
    expect(parseObservedVersion(verified.stdout)).toBe("2.0.0");
    const wrong = await runHookScript({ script: docScript(), hook: "verify", version: "1.0.0", env: { ...apache.env, ROTOR_VERIFY_WARMUP: "1" }, timeoutMs: 10_000 });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain("expected version 1.0.0, instance serves 2.0.0");
  }, 60_000);

  it("refuses hostile versions on every hook and creates nothing", async () => {
    const marker = "/tmp/x";
    const markerExisted = existsSync(marker);
    const before = readdirSync(appDir()).sort();
    for (const version of ["1.0;touch /tmp/x", "$(id)", "1.0\ntouch /tmp/x", "../2.0.0", "-rf"]) {
      for (const h of ["deploy", "verify", "stop", "start"] as const) {
        const r = await hook(h, version);
        expect(r.exitCode, `${h} ${JSON.stringify(version)}`).toBe(64);
        expect(r.stderr).toContain("refusing version");
      }
    }
    expect(existsSync(marker)).toBe(markerExisted);
    expect(readdirSync(appDir()).sort()).toEqual(before);
    expect(readlinkSync(path.join(appDir(), "current"))).toBe("releases/2.0.0");
    expect(await apache.pid()).not.toBeNull();
  });
});
