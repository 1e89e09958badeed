/**
 * The fleet supervisor's model: the balancer process, one process per instance, faults, traffic.
 * The control API (control-api.ts) is a thin JSON skin over this class.
 */
import type { ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import type { HookName } from "@/lib/rollout/types";
import type { FleetConfig } from "./config";
import { instanceId, zoneOf } from "./config";
import { FaultStore } from "./faults";
import type { HealthCheckSettings } from "./health";
import { deployHook, spawnTs, startHook, stopHook, verifyHook, type HookContext, type InstanceRecord } from "./hooks";
import { ipcClient } from "./ipc";
import { Tail } from "./output";
import type { ControlInstance, ControlLoadBalancer, Fault, FaultBody, HookResultWire, LbTotals, SettingsBody } from "./protocol";
import { LOCAL_LB_NAME } from "./protocol";
import { ensurePrivateDir } from "@/server/store/files";
import { ensureRelease, readDeployed, writeDeployed } from "./releases";
import { TrafficGenerator } from "./traffic";
import type { BackendView } from "./balancer";
import { apacheConnectionCap, apacheDeploy, apacheSettings, apacheStart, apacheStop, apacheVerify, checkApacheInstalled, killApache, prepareInstance, readPid, setBackend500, type ApacheContext } from "./apache/instances";

const BALANCER_MAIN = path.join(__dirname, "balancer-main.ts");

interface LbDescribe {
  backends: BackendView[];
  totals: LbTotals;
  drainTimeoutMs: number;
  healthCheck: HealthCheckSettings;
}

export class UnknownInstanceError extends Error {}
/** The balancer is not (yet, or any more) running: transient for callers. */
export class FleetUnavailableError extends Error {}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export class Fleet {
  readonly instances = new Map<string, InstanceRecord>();
  readonly faults = new FaultStore();
  readonly traffic: TrafficGenerator;
  private lb: ChildProcess | null = null;
  private lbCall: (<T>(op: string, args?: unknown, timeoutMs?: number) => Promise<T>) | null = null;
  private readonly ctx: HookContext;
  /** Set when the instances are Apache servers (ROTOR_FLEET_SERVER=apache). */
  private readonly apache: ApacheContext | null;
  private shuttingDown = false;

  constructor(readonly cfg: FleetConfig) {
    this.traffic = new TrafficGenerator({ port: cfg.lbPort, rps: cfg.traffic.rps, slowFraction: cfg.traffic.slowFraction, enabled: cfg.traffic.enabled });
    this.ctx = {
      fleetDir: cfg.fleetDir,
      deployDelayMs: cfg.deployDelayMs,
      takeFault: (kind, id) => this.faults.take(kind, id) !== undefined,
      onStarted: (inst) => this.applyFaults(inst),
    };
    this.apache = cfg.server === "apache" ? { ...this.ctx, apache: apacheSettings(process.env, cfg.stopTimeoutMs) } : null;
  }

  /** Starts the balancer and every instance, registers them all; resolves once the balancer listens. */
  async boot(): Promise<void> {
    ensurePrivateDir(this.cfg.dataDir);
    if (this.apache) await checkApacheInstalled(this.apache.apache);
    await ensureRelease(this.cfg.fleetDir, this.cfg.initialVersion);
    for (let i = 0; i < this.cfg.instances; i++) {
      const id = instanceId(i);
      const deployed = (await readDeployed(this.cfg.fleetDir, id)) ?? this.cfg.initialVersion;
      if (deployed === this.cfg.initialVersion) await writeDeployed(this.cfg.fleetDir, id, deployed);
      const port = this.cfg.instanceBasePort === null ? await freePort() : this.cfg.instanceBasePort + i;
      const zone = zoneOf(i, this.cfg.instances);
      if (this.apache) await prepareInstance(this.apache.apache, this.cfg.fleetDir, { id, zone, port, deployedVersion: deployed });
      this.instances.set(id, { id, zone, port, child: null, pid: null, runningVersion: null, deployedVersion: deployed, log: new Tail(8_192), hookOut: null, lock: Promise.resolve() });
    }
    await this.startBalancer();
    const maxConnections = this.apache ? apacheConnectionCap(this.apache.apache) : undefined;
    await this.lbCall!("upsert", [...this.instances.values()].map((i) => ({ id: i.id, zone: i.zone, port: i.port, maxConnections })));
    const started = await this.runHook("start", [...this.instances.keys()], this.cfg.initialVersion, 45_000);
    for (const r of started) if (!r.ok) process.stderr.write(`rotor-fleet: ${r.id} did not start:\n${r.outputTail}\n`);
    await this.lbCall!("register", [...this.instances.keys()]);
    await this.waitInService(15_000);
    this.traffic.start();
  }

  /** Traffic starts once the fleet is in service, so a fresh start shows no 503s. */
  private async waitInService(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const all = await this.describeInstances();
      if (all.every((i) => i.state === "in-service" || !i.running)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private startBalancer(): Promise<void> {
    const child = spawnTs(BALANCER_MAIN, {
      ...process.env,
      ROTOR_LB_PORT: String(this.cfg.lbPort),
      ROTOR_DRAIN_TIMEOUT_MS: String(this.cfg.drainTimeoutMs),
      ROTOR_HEALTH_CHECK: JSON.stringify(this.cfg.healthCheck),
    });
    this.lb = child;
    this.lbCall = ipcClient(child, "balancer");
    child.stdout?.on("data", (c: Buffer) => process.stdout.write(c));
    child.stderr?.on("data", (c: Buffer) => process.stderr.write(c));
    child.on("exit", (code, signal) => {
      if (!this.shuttingDown) {
        process.stderr.write(`rotor-fleet: the balancer exited (${signal ?? code}); stopping the fleet\n`);
        void this.shutdown(1);
      }
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the balancer did not listen within 20 s")), 20_000);
      child.on("message", (m: { type?: string }) => {
        if (m.type === "listening") {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the balancer exited during start-up (${code}); is 127.0.0.1:${this.cfg.lbPort} in use?`));
      });
    });
  }

  private async call<T>(op: string, args?: unknown): Promise<T> {
    if (!this.lbCall || this.shuttingDown) throw new FleetUnavailableError(this.shuttingDown ? "the fleet is shutting down" : "the balancer is still starting");
    try {
      return await this.lbCall<T>(op, args);
    } catch (cause) {
      throw new FleetUnavailableError(`the balancer did not answer ${op}`, { cause });
    }
  }

  /** Throws UnknownInstanceError naming the first unknown id: callers check before changing anything. */
  checkIds(ids: string[]): void {
    const unknown = ids.filter((id) => !this.instances.has(id));
    if (unknown.length) throw new UnknownInstanceError(`unknown instance ${unknown.join(", ")}; the fleet has ${[...this.instances.keys()].join(", ")}`);
  }

  /** Apache instances: is the parent still there (it may die on its own, or be killed from outside)? */
  private async refreshApachePids(): Promise<void> {
    if (!this.apache) return;
    for (const inst of this.instances.values()) {
      inst.pid = await readPid(this.cfg.fleetDir, inst.id);
      if (inst.pid === null) inst.runningVersion = null;
    }
  }

  async describeInstances(): Promise<ControlInstance[]> {
    const lb = await this.call<LbDescribe>("describe");
    await this.refreshApachePids();
    const byId = new Map(lb.backends.map((b) => [b.id, b]));
    return [...this.instances.values()].map((inst) => {
      const b = byId.get(inst.id);
      const base = {
        id: inst.id,
        name: inst.id,
        zone: inst.zone,
        port: inst.port,
        address: `127.0.0.1:${inst.port}`,
        version: inst.runningVersion,
        deployedVersion: inst.deployedVersion,
        running: this.apache ? inst.pid !== null : inst.child !== null,
        pid: this.apache ? inst.pid : (inst.child?.pid ?? null),
      };
      if (!b) {
        return { ...base, state: "unknown", description: "The balancer does not know this instance.", reasonCode: "N/A", inFlight: null, registered: false, counters: { inFlight: 0, requests: 0, backend5xx: 0, lb5xx: 0, errors: 0, retries: 0, drainCut: 0, clientAborts: 0 }, lastDrain: null } satisfies ControlInstance;
      }
      return { ...base, state: b.state, description: b.description, reasonCode: b.reasonCode, inFlight: b.inFlight, healthCheck: b.healthCheck, registered: b.registered, counters: b.counters, lastDrain: b.lastDrain } satisfies ControlInstance;
    });
  }

  async loadBalancer(): Promise<ControlLoadBalancer> {
    const lb = await this.call<LbDescribe>("describe");
    return {
      name: LOCAL_LB_NAME,
      provider: "local",
      kind: "local",
      drainTimeoutMs: lb.drainTimeoutMs,
      server: this.cfg.server,
      description: `Local fleet: balancer on 127.0.0.1:${this.cfg.lbPort}, ${this.instances.size} ${this.apache ? "Apache httpd + mod_perl" : "Node"} instances`,
      address: `127.0.0.1:${this.cfg.lbPort}`,
      healthCheck: lb.healthCheck,
      totals: lb.totals,
    };
  }

  async settings(s: SettingsBody): Promise<void> {
    await this.call("settings", s);
  }

  async register(ids: string[]): Promise<void> {
    this.checkIds(ids);
    await this.call("register", ids);
  }

  async deregister(ids: string[]): Promise<void> {
    this.checkIds(ids);
    const holdMs: Record<string, number> = {};
    const current = await this.describeInstances();
    for (const id of ids) {
      // The slow-drain fault fires on a real deregistration only (not on an idempotent repeat).
      if (!current.find((c) => c.id === id)?.registered) continue;
      const f = this.faults.take("slow-drain", id);
      if (f) holdMs[id] = f.holdMs ?? 8_000;
    }
    await this.call("deregister", { ids, holdMs });
  }

  /** Runs a hook on every id in parallel (one at a time per instance); one result per id, in order. */
  async runHook(hook: HookName, ids: string[], version: string, timeoutMs?: number): Promise<HookResultWire[]> {
    this.checkIds(ids);
    return Promise.all(ids.map((id) => this.runOne(hook, this.instances.get(id)!, version, timeoutMs)));
  }

  private runOne(hook: HookName, inst: InstanceRecord, version: string, timeoutMs?: number): Promise<HookResultWire> {
    const run = async (): Promise<HookResultWire> => {
      const out = new Tail();
      inst.hookOut = out;
      const started = Date.now();
      let outcome: { exitCode: number | null; observedVersion?: string };
      try {
        // Leave room inside the hook's deadline for the forced stop after the graceful period.
        if (this.apache) outcome = await this.runApache(hook, inst, version, timeoutMs, out);
        else if (hook === "stop") outcome = await stopHook(inst, timeoutMs === undefined ? this.cfg.stopTimeoutMs : Math.floor(timeoutMs - Math.min(2_000, timeoutMs / 5)), out);
        else if (hook === "deploy") outcome = await deployHook(this.ctx, inst, version, out);
        else if (hook === "start") outcome = await startHook(this.ctx, inst, timeoutMs ?? 20_000, out);
        else outcome = await verifyHook(inst, version, timeoutMs ?? 5_000, out);
      } catch (err) {
        out.push(`${hook} failed: ${err instanceof Error ? err.message : String(err)}`);
        outcome = { exitCode: 1 };
      } finally {
        inst.hookOut = null;
      }
      const result: HookResultWire = { id: inst.id, ok: outcome.exitCode === 0, exitCode: outcome.exitCode, durationMs: Date.now() - started, outputTail: out.toString() };
      if (outcome.observedVersion !== undefined) result.observedVersion = outcome.observedVersion;
      return result;
    };
    const next = inst.lock.then(run, run);
    inst.lock = next.catch(() => undefined);
    return next;
  }

  private runApache(hook: HookName, inst: InstanceRecord, version: string, timeoutMs: number | undefined, out: Tail) {
    const ctx = this.apache!;
    // Stop may take the whole graceful period (GracefulShutdownTimeout) and a margin to see the parent go.
    if (hook === "stop") return apacheStop(ctx, inst, timeoutMs ?? (ctx.apache.gracefulTimeoutS + 10) * 1000, out);
    if (hook === "deploy") return apacheDeploy(ctx, inst, version, timeoutMs ?? 60_000, out);
    if (hook === "start") return apacheStart(ctx, inst, timeoutMs ?? 30_000, out);
    return apacheVerify(ctx, inst, version, timeoutMs ?? 5_000, out);
  }

  private async setBackend500(inst: InstanceRecord | undefined, on: boolean): Promise<void> {
    if (!inst) return;
    if (this.apache) await setBackend500(this.cfg.fleetDir, inst.id, on);
    else inst.child?.send({ type: "fault", backend500: on });
  }

  private async applyFaults(inst: InstanceRecord): Promise<void> {
    const health = this.faults.has("health-fails-after-start", inst.id);
    if (health) {
      health.active = true;
      await this.call("healthFault", { id: inst.id, failing: true });
    }
    if (this.faults.has("backend-500", inst.id)) await this.setBackend500(inst, true);
  }

  async injectFault(body: FaultBody): Promise<Fault[]> {
    this.checkIds([body.instanceId]);
    this.faults.add(body);
    if (body.kind === "backend-500") await this.setBackend500(this.instances.get(body.instanceId), true);
    return this.faults.list();
  }

  async clearFaults(): Promise<Fault[]> {
    for (const f of this.faults.clear()) {
      if (f.kind === "health-fails-after-start") await this.call("healthFault", { id: f.instanceId, failing: false });
      if (f.kind === "backend-500") await this.setBackend500(this.instances.get(f.instanceId), false);
    }
    return this.faults.list();
  }

  async reset(): Promise<void> {
    await this.clearFaults();
    this.traffic.reset();
    await this.call("reset");
  }

  childPids(): number[] {
    const pids = [this.lb?.pid, ...[...this.instances.values()].map((i) => i.child?.pid ?? i.pid)];
    return pids.filter((p): p is number => typeof p === "number");
  }

  /** Stops traffic, every instance (SIGTERM, SIGKILL after 3 s) and the balancer; then exits. */
  async shutdown(code = 0): Promise<never> {
    if (this.shuttingDown) return new Promise<never>(() => undefined);
    this.shuttingDown = true;
    this.traffic.close();
    if (this.apache) await Promise.all([...this.instances.values()].map((i) => killApache(this.cfg.fleetDir, i).catch(() => undefined)));
    const children = [...[...this.instances.values()].map((i) => i.child), this.lb].filter((c): c is ChildProcess => c !== null && c.exitCode === null && c.signalCode === null);
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            const kill = setTimeout(() => c.kill("SIGKILL"), 3_000);
            c.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            c.kill("SIGTERM");
          }),
      ),
    );
    process.exit(code);
  }
}
