/**
 * Test helper: the real local fleet (supervisor, balancer, instances as processes) on free loopback
 * ports, in service before it resolves. `stop()` ends every process it started, even leaked ones.
 *
 *   const fleet = await startLocalFleet({ instances: 5, dataDir });
 *   await fleet.provider.describeInstances("local");
 *   await fleet.stop();
 *
 * One balancer (`local`) unless `internalInstances` asks for the second (`local-internal`), so tests
 * about a single balancer are not disturbed by traffic through another.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "@/server/testing/ports";
import type { LoadBalancerProvider } from "@/server/providers/types";
import { createLocalProvider } from "@/server/providers/local";
import { ControlClient } from "@/server/providers/local/control-client";
import type { HealthCheckSettings } from "./health";
import { CONTROL_SECRET_FILE, readControlSecret } from "./control-secret";
import { LOCAL_INTERNAL_LB_NAME, LOCAL_LB_NAME } from "./protocol";

export interface StartLocalFleetOptions {
  instances?: number;
  /** Where releases go (`${dataDir}/fleet`); use a fresh temp dir per test file. */
  dataDir: string;
  /** Traffic generator rate; default 0 (off). */
  trafficRps?: number;
  /** The first N instances are also behind `local-internal` (on a free port); default 0: no second balancer. */
  internalInstances?: number;
  /** Share of the generated traffic sent through `local-internal` (default 0.25). */
  internalShare?: number;
  slowFraction?: number;
  drainTimeoutMs?: number;
  /** Default in tests: interval 300 ms, timeout 1 s, thresholds 2/2 (quicker verdicts than the demo's 1 s interval). */
  healthCheck?: Partial<Omit<HealthCheckSettings, "path">>;
  initialVersion?: string;
  /** Pretend work in deploy (default 0 in tests). */
  deployDelayMs?: number;
  /** Extra environment for the supervisor. */
  env?: Record<string, string>;
  /** Wait this long for every instance to be in service (default 50 s: a loaded 2-core machine starts 7 processes slowly; vitest's hook timeout is 60 s). */
  readyTimeoutMs?: number;
}

export interface LocalFleetHandle {
  lbUrl: string;
  lbPort: number;
  /** Every balancer's name (the default one first). */
  lbNames: string[];
  controlUrl: string;
  /** The control API's secret, written by the fleet at start (0600). */
  secretFile: string;
  provider: LoadBalancerProvider;
  control: ControlClient;
  lbName: string;
  /** Supervisor pid. */
  pid: number;
  /** The supervisor's output so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

const MAIN = path.join(__dirname, "main.ts");
const ROOT = path.resolve(__dirname, "..", "..");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startLocalFleet(options: StartLocalFleetOptions): Promise<LocalFleetHandle> {
  const secretFile = path.join(path.resolve(options.dataDir), CONTROL_SECRET_FILE);
  const lbPort = await freePort();
  let controlPort = await freePort();
  while (controlPort === lbPort) controlPort = await freePort();
  let internalPort = await freePort();
  while (internalPort === lbPort || internalPort === controlPort) internalPort = await freePort();
  const lbNames = options.internalInstances ? [LOCAL_LB_NAME, LOCAL_INTERNAL_LB_NAME] : [LOCAL_LB_NAME];
  // Quick checks, but a lenient timeout: on a loaded 2-core machine a check can take a while, and
  // slow checks across the fleet would take every instance out of service mid-test.
  const health = { intervalMs: 300, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 2, ...options.healthCheck };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ROTOR_LB_PORT: String(lbPort),
    ROTOR_CONTROL_PORT: String(controlPort),
    ROTOR_INTERNAL_INSTANCES: String(options.internalInstances ?? 0),
    ROTOR_INTERNAL_LB_PORT: String(internalPort),
    ROTOR_TRAFFIC_INTERNAL_SHARE: String(options.internalShare ?? 0.25),
    ROTOR_INSTANCES: String(options.instances ?? 5),
    ROTOR_INSTANCE_BASE_PORT: "auto",
    ROTOR_DATA_DIR: options.dataDir,
    ROTOR_CONTROL_SECRET_FILE: secretFile,
    ROTOR_TRAFFIC: options.trafficRps ? "on" : "off",
    ROTOR_TRAFFIC_RPS: String(options.trafficRps ?? 0),
    ROTOR_TRAFFIC_SLOW_FRACTION: String(options.slowFraction ?? 0.25),
    ROTOR_DRAIN_TIMEOUT_MS: String(options.drainTimeoutMs ?? 30_000),
    ROTOR_HEALTH_CHECK: JSON.stringify(health),
    ROTOR_INITIAL_VERSION: options.initialVersion ?? "1.0.0",
    ROTOR_DEPLOY_DELAY_MS: String(options.deployDelayMs ?? 0),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", MAIN], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe", "ipc"] });
  let out = "";
  const collect = (c: Buffer) => {
    out = (out + c.toString("utf8")).slice(-16_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  const secret = () => readControlSecret(secretFile);
  const control = new ControlClient(controlUrl, secret);
  const provider = createLocalProvider({ controlUrl, controlSecret: secret });
  const known = new Set<number>();

  const stop = async () => {
    try {
      for (const pid of (await control.fleet({ timeoutMs: 2_000 })).childPids) known.add(pid);
    } catch {
      /* the supervisor may already be gone */
    }
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    // Belt and braces: nothing the fleet started may outlive it.
    const deadline = Date.now() + 5_000;
    while ([...known].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of known) if (alive(pid)) process.kill(pid, "SIGKILL");
  };

  try {
    const readyMs = options.readyTimeoutMs ?? 50_000;
    const deadline = Date.now() + readyMs;
    const ready = new Promise<void>((resolve, reject) => {
      child.on("message", (m: { type?: string }) => m.type === "ready" && resolve());
      child.once("exit", (code, signal) => reject(new Error(`the fleet exited during start-up (${signal ?? code}):\n${out}`)));
    });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the fleet was not ready within ${readyMs} ms:\n${out}`)), Math.max(0, deadline - Date.now())).unref());
    await Promise.race([ready, timeout]);
    for (const pid of (await control.fleet()).childPids) known.add(pid);
    // Processes this test starts next (a headless engine, a dashboard) inherit the way to the secret.
    process.env.ROTOR_CONTROL_SECRET_FILE = secretFile;
    for (;;) {
      const instances = (await Promise.all(lbNames.map((lb) => provider.describeInstances(lb)))).flat();
      if (instances.every((i) => i.state === "in-service")) break;
      if (Date.now() > deadline) throw new Error(`not every instance is in service: ${instances.map((i) => `${i.id} ${i.state}`).join(", ")}\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return { lbUrl: `http://127.0.0.1:${lbPort}`, lbPort, lbNames, controlUrl, secretFile, provider, control, lbName: LOCAL_LB_NAME, pid: child.pid ?? -1, output: () => out, stop };
}
