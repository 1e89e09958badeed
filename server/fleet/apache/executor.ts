/**
 * The local executor of the shared hook script (server/providers/hook-script.ts): runs it with `sh`
 * the way the SSM agent does under `interpolationType: ENV_VAR` — the hook and version as `SSM_Hook`
 * and `SSM_Version` in the environment, the script text itself never touched.
 */
import { spawn } from "node:child_process";
import type { ScriptHook } from "@/server/providers/hook-script";
import type { Tail } from "../output";

export interface ScriptRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface RunScriptOptions {
  /** The script text to run (the local fleet's, or one taken from an SSM document). */
  script: string;
  hook: ScriptHook;
  version: string;
  /** Settings for the script (ROTOR_APACHE_CONF, ROTOR_PORT, …); added to a clean copy of this process's environment. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Receives the output as it arrives. */
  out?: Tail;
}

export function runHookScript(o: RunScriptOptions): Promise<ScriptRun> {
  const env = {} as NodeJS.ProcessEnv;
  // Nothing SSM_* or ROTOR_* leaks in from this process: the script sees what an instance would.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("SSM_") && !k.startsWith("ROTOR_")) env[k] = v;
  Object.assign(env, o.env, { SSM_Hook: o.hook, SSM_Version: o.version });
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", o.script], { env, stdio: ["ignore", "pipe", "pipe"], timeout: o.timeoutMs, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
      o.out?.push(c.toString("utf8"));
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
      o.out?.push(c.toString("utf8"));
    });
    child.once("error", (cause) => reject(new Error(`cannot run the ${o.hook} hook script`, { cause })));
    child.once("exit", (code, signal) => {
      if (signal) stderr += `rotor: the ${o.hook} hook was killed (${signal}) after ${o.timeoutMs} ms\n`;
      // A daemon started by the script may hold a copy of its pipes: do not wait for them to close.
      setTimeout(() => resolve({ exitCode: code, stdout, stderr }), 20);
    });
  });
}
