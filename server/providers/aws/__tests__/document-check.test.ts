/**
 * The generated document's script is checked at start-up (`sh -n`), and each configured hook is
 * placed so that a multi-line command with a heredoc works: the assembled script runs for real
 * under `sh` against a temp dir, every hook of it (stop included), the way the SSM agent runs it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createAwsProvider, parseAwsConfig } from "@/server/providers/aws";
import { checkHookScript, hookScript } from "@/server/providers/aws/ssm";
import { ProviderError } from "@/server/providers/types";

const dir = mkdtempSync(path.join(tmpdir(), "rotor-doc-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runScript(script: string, hook: string, version: string) {
  const env = { ...process.env, SSM_Hook: hook, SSM_Version: version, ROTOR_DIR: dir };
  return spawnSync("sh", ["-c", script], { env, encoding: "utf8", timeout: 10_000 });
}

const HEREDOC_DEPLOY = ['cat > "$ROTOR_DIR/release.conf" <<EOF', "release=$SSM_Version", "  indented line", "EOF", 'echo "deployed $SSM_Version"'].join("\n");

describe("the assembled hook script", () => {
  it("runs a configured heredoc hook, and the other hooks still work", () => {
    const config = parseAwsConfig({ hooks: { deploy: HEREDOC_DEPLOY, stop: "echo stopped", start: "echo 'started'\r\necho again\r\n" } });
    expect(() => checkHookScript(config)).not.toThrow();
    const script = hookScript(config);
    const deploy = runScript(script, "deploy", "2.0.1");
    expect(deploy.stderr).toBe("");
    expect(deploy).toMatchObject({ status: 0, stdout: "deployed 2.0.1\n" });
    expect(readFileSync(path.join(dir, "release.conf"), "utf8")).toBe("release=2.0.1\n  indented line\n");
    expect(runScript(script, "stop", "none")).toMatchObject({ status: 0, stdout: "stopped\n" });
    // Windows line ends in a configured command do not break it.
    expect(runScript(script, "start", "none")).toMatchObject({ status: 0, stdout: "started\nagain\n" });
    // The version is still data: a hostile one is refused before the heredoc hook runs.
    expect(runScript(script, "deploy", "1.0;touch x")).toMatchObject({ status: 64 });
  });

  it.each([
    { hooks: { deploy: 'cat <<EOF\nnever closed\n' }, setting: "ROTOR_AWS_HOOK_DEPLOY", hook: "deploy" },
    { hooks: { stop: 'if true; then echo "half"' }, setting: "ROTOR_AWS_HOOK_STOP", hook: "stop" },
    { hooks: { verify: "echo 'unterminated" }, setting: "ROTOR_AWS_HOOK_VERIFY", hook: "verify" },
  ])("refuses a $hook hook that does not parse, naming it and the shell's message", ({ hooks, setting, hook }) => {
    const config = parseAwsConfig({ hooks });
    let err: unknown;
    try {
      createAwsProvider(config, { credentials: { accessKeyId: "x", secretAccessKey: "y" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: "CONFIG" });
    expect((err as Error).message).toMatch(new RegExp(`^hook ${hook} \\(${setting}\\) does not parse: .*sh: \\d+: .+`));
  });

  it("refuses a broken in-flight command by its setting", () => {
    expect(() => checkHookScript(parseAwsConfig({ inFlightCommand: "echo $(" }))).toThrow(/^hook probe \(ROTOR_AWS_INFLIGHT_COMMAND\) does not parse: /);
  });
});
