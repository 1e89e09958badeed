/**
 * The fleet supervisor's instance runner, playing SSM's part: lifecycle hooks on one instance's
 * process, each answering exit status, duration and the tail of its output (as a script would).
 *
 * - `stop`: SIGTERM (the instance finishes in-flight requests with `Connection: close`, then exits);
 *   SIGKILL once the graceful period (hook timeout, else ROTOR_STOP_TIMEOUT_MS) is over.
 * - `deploy VERSION`: create or select the release folder and point the instance at it.
 * - `start`: spawn the instance on its port and wait until it listens.
 * - `verify`: GET /health and /version on the instance itself (not through the balancer); the version must match.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { DeployError, checkVersion, ensureRelease, isBroken, releaseDir, writeDeployed } from "./releases";
import { type Tail } from "./output";

export const ROOT = path.resolve(__dirname, "..", "..");
const INSTANCE_MAIN = path.join(__dirname, "instance.ts");

export interface InstanceRecord {
  id: string;
  zone: string;
  port: number;
  child: ChildProcess | null;
  /** Apache fleet: the running parent's pid (Apache daemonizes, so it is no child of ours). */
  pid: number | null;
  /** The version the running process serves (null when stopped). */
  runningVersion: string | null;
  deployedVersion: string;
  log: Tail;
  /** Where the current hook collects the instance's output. */
  hookOut: Tail | null;
  lock: Promise<unknown>;
}

export interface HookContext {
  fleetDir: string;
  deployDelayMs: number;
  /** Called once a started instance listens (the supervisor re-applies faults). */
  onStarted(inst: InstanceRecord): Promise<void>;
  takeFault(kind: "deploy-fails" | "start-fails", id: string): boolean;
}

export interface HookOutcome {
  exitCode: number | null;
  observedVersion?: string;
}

export function spawnTs(file: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", file], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe", "ipc"] });
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function stopHook(inst: InstanceRecord, graceMs: number, out: Tail): Promise<HookOutcome> {
  const child = inst.child;
  if (!child) {
    out.push(`${inst.id} is already stopped`);
    return { exitCode: 0 };
  }
  out.push(`stopping ${inst.id} (pid ${child.pid}) gracefully; forced stop after ${graceMs} ms`);
  child.kill("SIGTERM");
  if (await waitExit(child, graceMs)) {
    out.push(`${inst.id} stopped`);
    return { exitCode: 0 };
  }
  out.push(`graceful stop did not finish within ${graceMs} ms: sending SIGKILL (requests still in flight are cut)`);
  child.kill("SIGKILL");
  await waitExit(child, 1_500);
  out.push(`${inst.id} killed`);
  return { exitCode: 0 };
}

/** A deploy's checks and pretend work, shared by both servers: throws DeployError (bad version, faults, broken release). */
export async function beginDeploy(ctx: HookContext, inst: InstanceRecord, version: string, out: Tail): Promise<void> {
  checkVersion(version);
  out.push(`deploying ${version} to ${inst.id} (currently ${inst.deployedVersion})`);
  if (ctx.deployDelayMs > 0) await new Promise((r) => setTimeout(r, ctx.deployDelayMs));
  if (ctx.takeFault("deploy-fails", inst.id)) throw new DeployError(`deploy of ${version} failed: could not unpack the release (injected fault: deploy-fails)`, 1);
  if (isBroken(version)) throw new DeployError(`deploy of ${version} failed: the release is marked broken; ${inst.id} keeps ${inst.deployedVersion}`, 1);
}

export function deployFailed(err: unknown, out: Tail): HookOutcome {
  out.push(err instanceof Error ? err.message : String(err));
  return { exitCode: err instanceof DeployError ? err.exitCode : 1 };
}

export async function deployHook(ctx: HookContext, inst: InstanceRecord, version: string, out: Tail): Promise<HookOutcome> {
  try {
    await beginDeploy(ctx, inst, version, out);
    const { dir, created } = await ensureRelease(ctx.fleetDir, version);
    out.push(`${created ? "created" : "selected"} release ${dir}`);
    await writeDeployed(ctx.fleetDir, inst.id, version);
    inst.deployedVersion = version;
    out.push(inst.child ? `${inst.id} now points to ${version}; it is running ${inst.runningVersion}, the new release serves after a restart` : `${inst.id} now points to ${version}`);
    return { exitCode: 0 };
  } catch (err) {
    return deployFailed(err, out);
  }
}

export async function startHook(ctx: HookContext, inst: InstanceRecord, timeoutMs: number, out: Tail): Promise<HookOutcome> {
  if (inst.child) {
    out.push(`${inst.id} is already running (pid ${inst.child.pid}, ${inst.runningVersion})`);
    return { exitCode: 0 };
  }
  const failStart = ctx.takeFault("start-fails", inst.id);
  out.push(`starting ${inst.id} on 127.0.0.1:${inst.port} with release ${inst.deployedVersion}`);
  const child = spawnTs(INSTANCE_MAIN, {
    ...process.env,
    ROTOR_INSTANCE_ID: inst.id,
    ROTOR_INSTANCE_PORT: String(inst.port),
    ROTOR_INSTANCE_ZONE: inst.zone,
    ROTOR_RELEASE_DIR: releaseDir(ctx.fleetDir, inst.deployedVersion),
    ROTOR_FAIL_START: failStart ? "1" : "0",
  });
  inst.child = child;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    inst.log.push(text);
    inst.hookOut?.push(text);
    if (process.env.ROTOR_FLEET_VERBOSE === "1") process.stdout.write(text);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  child.on("exit", (code, signal) => {
    if (inst.child === child) {
      inst.child = null;
      inst.runningVersion = null;
    }
    inst.log.push(`${inst.id} exited (${signal ?? code})`);
  });
  const listening = await new Promise<{ version: string } | { error: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ error: `${inst.id} did not listen within ${timeoutMs} ms` }), timeoutMs);
    child.on("message", (m: { type?: string; version?: string }) => {
      if (m.type !== "listening") return;
      clearTimeout(timer);
      resolve({ version: m.version ?? inst.deployedVersion });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ error: `${inst.id} exited during start-up (${signal ?? `exit code ${code}`})` });
    });
  });
  if ("error" in listening) {
    out.push(listening.error);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await waitExit(child, 5_000);
    }
    return { exitCode: child.exitCode && child.exitCode !== 0 ? child.exitCode : 1 };
  }
  inst.runningVersion = listening.version;
  await ctx.onStarted(inst);
  out.push(`${inst.id} is listening, serving ${listening.version}`);
  return { exitCode: 0 };
}

function getJson(port: number, urlPath: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("error", reject);
      res.on("end", () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON: keep the text */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

export async function verifyHook(inst: InstanceRecord, expected: string, timeoutMs: number, out: Tail): Promise<HookOutcome> {
  if (!inst.child) {
    out.push(`${inst.id} is not running`);
    return { exitCode: 1 };
  }
  const each = Math.max(200, Math.floor(timeoutMs / 2));
  try {
    const health = await getJson(inst.port, "/health", each);
    out.push(`GET /health → ${health.status}`);
    const ver = await getJson(inst.port, "/version", each);
    const observed = (ver.body as { version?: unknown } | null)?.version;
    const observedVersion = typeof observed === "string" ? observed : undefined;
    out.push(`GET /version → ${ver.status} ${observedVersion ?? "(no version)"}`);
    if (health.status !== 200) return { exitCode: 1, observedVersion };
    if (observedVersion !== expected) {
      out.push(`version mismatch: expected ${expected}, instance serves ${observedVersion ?? "nothing"}`);
      return { exitCode: 1, observedVersion };
    }
    out.push(`${inst.id} is healthy and serves ${expected}`);
    return { exitCode: 0, observedVersion };
  } catch (err) {
    out.push(`verify failed: ${err instanceof Error ? err.message : String(err)}`);
    return { exitCode: 1 };
  }
}
