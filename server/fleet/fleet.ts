/**
 * The fleet supervisor's model: one process per balancer (`local`, and `local-internal` in front of some
 * of the same instances), one process per instance, faults, traffic. Each balancer keeps its own
 * registrations, drains, in-flight counts and counters, as two real load balancers would; hooks and
 * faults act on instances whichever balancer named them.
 * The control API (control-api.ts) is a thin JSON skin over this class.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { BackendStatsSnapshot } from "@/lib/analysis";
import type { HookName } from "@/lib/rollout/types";
import type { BalancerConfig, FleetConfig } from "./config";
import { instanceId, zoneOf } from "./config";
import { FaultStore } from "./faults";
import type { HealthCheckSettings } from "./health";
import { deployHook, spawnTs, startHook, stopHook, verifyHook, type HookContext, type InstanceRecord } from "./hooks";
import { ipcClient } from "./ipc";
import { Tail } from "./output";
import { APP_FAULT_KINDS, type ControlInstance, type ControlLoadBalancer, type Fault, type FaultBody, type HookResultWire, type LbTotals, type SettingsBody } from "./protocol";
import { ensurePrivateDir } from "@/server/store/files";
import { checkVersion, ensureRelease, readDeployed, writeDeployed } from "./releases";
import { TrafficGenerator } from "./traffic";
import { GroupRefusal, LocalGroup } from "./group";
import type { GroupView } from "./protocol";
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
export class UnknownLoadBalancerError extends Error {}

type IpcCall = <T>(op: string, args?: unknown, timeoutMs?: number) => Promise<T>;

/** One balancer process and the instances behind it. */
interface BalancerProcess {
  cfg: BalancerConfig;
  /** Grows when the group launches an instance into this balancer, shrinks when one is terminated. */
  members: Set<string>;
  child: ChildProcess | null;
  call: IpcCall | null;
}
/** The balancer is not (yet, or any more) running: transient for callers. */
export class FleetUnavailableError extends Error {}

/**
 * The kernel's range for outgoing connections' local ports (Linux: /proc; elsewhere the Linux default).
 * An instance's port must lie outside it: the port is idle between the instance's stop and its start,
 * and an outgoing connection anywhere on the machine (the balancer's, the traffic's, another
 * program's) could take it then, so the restarted server would fail with "address already in use".
 */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low && high && low <= high) return { low, high };
  } catch {
    // not Linux: the default range below
  }
  return { low: 32768, high: 60999 };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A free loopback port for an instance, outside the ephemeral range (see ephemeralRange). */
async function freePort(): Promise<number> {
  const { low, high } = ephemeralRange();
  // The larger stretch outside the range: below it (10000 up), or above it.
  const [from, to] = low - 10_000 >= 65_535 - high ? [10_000, low - 1] : [high + 1, 65_535];
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port for an instance between ${from} and ${to} (outside the ephemeral range ${low}-${high}); set ROTOR_INSTANCE_BASE_PORT`);
}

export class Fleet {
  readonly instances = new Map<string, InstanceRecord>();
  readonly faults = new FaultStore();
  readonly traffic: TrafficGenerator;
  /** By name, the default balancer first. */
  private readonly balancers = new Map<string, BalancerProcess>();
  private readonly ctx: HookContext;
  /** Set when the instances are Apache servers (ROTOR_FLEET_SERVER=apache). */
  private readonly apache: ApacheContext | null;
  private shuttingDown = false;
  /** Set once booted: the group owns every instance from then on. */
  private groupRef: LocalGroup | null = null;

  constructor(readonly cfg: FleetConfig) {
    for (const b of cfg.balancers) this.balancers.set(b.name, { cfg: b, members: new Set(b.instanceIds), child: null, call: null });
    // The default balancer takes whatever the others leave of the demo traffic.
    const targets = cfg.balancers.map((b, i) => ({ name: b.name, port: b.port, share: i === 0 ? 1 : cfg.traffic.internalShare }));
    this.traffic = new TrafficGenerator({ targets, rps: cfg.traffic.rps, slowFraction: cfg.traffic.slowFraction, enabled: cfg.traffic.enabled });
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
    await Promise.all([...this.balancers.values()].map((b) => this.startBalancer(b)));
    // An Apache instance has a fixed number of workers: the balancers in front of it share them.
    const cap = this.apache ? apacheConnectionCap(this.apache.apache) : undefined;
    const maxConnections = (id: string) => (cap === undefined ? undefined : Math.floor(cap / this.balancersOf(id).length));
    for (const b of this.balancers.values()) {
      const specs = [...this.instances.values()].filter((i) => b.members.has(i.id)).map((i) => ({ id: i.id, zone: i.zone, port: i.port, maxConnections: maxConnections(i.id) }));
      await this.call(b, "upsert", specs);
    }
    const started = await this.runHook("start", [...this.instances.keys()], this.cfg.initialVersion, 45_000);
    for (const r of started) if (!r.ok) process.stderr.write(`rotor-fleet: ${r.id} did not start:\n${r.outputTail}\n`);
    for (const b of this.balancers.values()) await this.call(b, "register", b.cfg.instanceIds);
    await this.waitInService(15_000);
    this.groupRef = new LocalGroup(
      { launch: (id, index, version, lbs) => this.launchInstance(id, index, version, lbs), retire: (id) => this.retireInstance(id), describe: (id) => this.instances.get(id) },
      {
        name: "local",
        min: this.cfg.group.min,
        max: this.cfg.group.max,
        initial: [...this.instances.values()].map((i) => ({ id: i.id, version: i.deployedVersion })),
        launchVersion: this.cfg.initialVersion,
        // The group feeds every balancer, like an Auto Scaling group attached to a Classic ELB and a target
        // group: a new instance joins `local` and `local-internal` (so after a replace, local-internal serves
        // every instance, not only the first ROTOR_INTERNAL_INSTANCES).
        loadBalancers: [...this.balancers.keys()],
      },
    );
    this.traffic.start();
  }

  /** The Auto Scaling group; throws FleetUnavailableError until the fleet has booted. */
  get group(): LocalGroup {
    if (!this.groupRef || this.shuttingDown) throw new FleetUnavailableError(this.shuttingDown ? "the fleet is shutting down" : "the fleet is still starting");
    return this.groupRef;
  }

  groupView(): GroupView {
    return this.group.view();
  }

  /** Checked with lib's version rule before the group sees it (a refusal changes nothing). */
  setLaunchVersion(version: string): GroupView {
    checkVersion(version);
    this.group.setLaunchVersion(version);
    return this.group.view();
  }

  /** The zone with the fewest instances, so launches spread like an Auto Scaling group over its zones. */
  private leastUsedZone(): string {
    const zones = [...new Set(Array.from({ length: this.cfg.instances }, (_, i) => zoneOf(i, this.cfg.instances)))];
    const used = (z: string) => [...this.instances.values()].filter((i) => i.zone === z).length;
    return zones.reduce((best, z) => (used(z) < used(best) ? z : best), zones[0] ?? "local-a");
  }

  /** The group's launch: a new instance process on `version`, registered in `lbs`, in service at each. */
  private async launchInstance(id: string, index: number, version: string, lbs: string[]): Promise<void> {
    const targets = lbs.map((name) => this.balancer(name));
    const port = this.cfg.instanceBasePort === null ? await freePort() : this.cfg.instanceBasePort + index;
    const zone = this.leastUsedZone();
    if (this.apache) await prepareInstance(this.apache.apache, this.cfg.fleetDir, { id, zone, port, deployedVersion: version });
    const inst: InstanceRecord = { id, zone, port, child: null, pid: null, runningVersion: null, deployedVersion: version, log: new Tail(8_192), hookOut: null, lock: Promise.resolve() };
    this.instances.set(id, inst);
    for (const b of targets) {
      b.members.add(id);
      await this.call(b, "upsert", [{ id, zone, port, maxConnections: this.apache ? Math.floor(apacheConnectionCap(this.apache.apache) / targets.length) : undefined }]);
    }
    // The same hooks an in-place deploy runs, so faults (deploy-fails, start-fails, broken releases) apply to launches too.
    for (const hook of ["deploy", "start"] as const) {
      const r = await this.runOne(hook, inst, version, 30_000);
      if (!r.ok) throw new Error(`launching ${id} on ${version}: ${hook} failed (exit ${r.exitCode}): ${r.outputTail.trim().split("\n").slice(-3).join(" | ")}`);
    }
    for (const b of targets) await this.call(b, "register", [id]);
    const hc = this.cfg.healthCheck;
    const ms = Math.max(15_000, 4 * hc.intervalMs * hc.healthyThreshold);
    await this.waitBackend(targets, id, (v) => v.state === "in-service", ms, `${id} in service at ${lbs.join(", ")}`);
  }

  /** Polls each balancer until `ok` holds for `id` at every one of them; throws after `ms`. */
  private async waitBackend(targets: BalancerProcess[], id: string, ok: (v: BackendView) => boolean, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const views = await Promise.all(targets.map((b) => this.call<LbDescribe>(b, "describe")));
      const mine = views.map((v) => v.backends.find((x) => x.id === id));
      if (mine.every((v) => v !== undefined && ok(v))) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (now ${mine.map((v) => v?.state ?? "unknown").join(", ")})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * The group's termination, as TerminateInstanceInAutoScalingGroup does it: out of every balancer the
   * instance is behind, each drain run to its end (in flight 0, or the drain timeout), then the process
   * stops and every trace of it in the balancers goes. Unknown ids are already gone.
   */
  private async retireInstance(id: string): Promise<void> {
    const inst = this.instances.get(id);
    if (!inst) return;
    const behind = this.balancersOf(id);
    for (const b of behind) await this.deregister(b.cfg.name, [id]);
    const drainMs = Math.max(...(await Promise.all(behind.map((b) => this.call<LbDescribe>(b, "describe")))).map((d) => d.drainTimeoutMs), 0);
    await this.waitBackend(behind, id, (v) => !v.registered && v.state !== "draining" && v.inFlight === 0, drainMs + 10_000, `${id} drained at ${behind.map((b) => b.cfg.name).join(", ")}`);
    const stopped = await this.runOne("stop", inst, inst.deployedVersion);
    if (!stopped.ok) throw new Error(`terminating ${id}: stop failed (exit ${stopped.exitCode}): ${stopped.outputTail}`);
    for (const b of behind) {
      await this.call(b, "remove", [id]);
      b.members.delete(id);
    }
    this.instances.delete(id);
  }

  /** Traffic starts once the fleet is in service, so a fresh start shows no 503s. */
  private async waitInService(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const views = await Promise.all([...this.balancers.keys()].map((name) => this.describeInstances(name)));
      if (views.flat().every((i) => i.state === "in-service" || !i.running)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Throws UnknownLoadBalancerError naming the balancers there are. */
  private balancer(name: string): BalancerProcess {
    const b = this.balancers.get(name);
    if (!b) throw new UnknownLoadBalancerError(`unknown load balancer ${JSON.stringify(name)}; the local fleet has ${[...this.balancers.keys()].map((n) => JSON.stringify(n)).join(", ")}`);
    return b;
  }

  /** Answers the name when the fleet has such a balancer; throws UnknownLoadBalancerError otherwise. */
  checkBalancer(name: string): string {
    return this.balancer(name).cfg.name;
  }

  /** Each balancer's port, by name (the default one first). */
  balancerPorts(): Record<string, number> {
    return Object.fromEntries([...this.balancers.values()].map((b) => [b.cfg.name, b.cfg.port]));
  }

  private startBalancer(b: BalancerProcess): Promise<void> {
    const child = spawnTs(BALANCER_MAIN, {
      ...process.env,
      ROTOR_LB_PORT: String(b.cfg.port),
      ROTOR_LB_NAME: b.cfg.name,
      ROTOR_DRAIN_TIMEOUT_MS: String(this.cfg.drainTimeoutMs),
      ROTOR_HEALTH_CHECK: JSON.stringify(this.cfg.healthCheck),
    });
    b.child = child;
    b.call = ipcClient(child, `balancer ${b.cfg.name}`);
    child.stdout?.on("data", (c: Buffer) => process.stdout.write(c));
    child.stderr?.on("data", (c: Buffer) => process.stderr.write(c));
    child.on("exit", (code, signal) => {
      if (!this.shuttingDown) {
        process.stderr.write(`rotor-fleet: the balancer ${b.cfg.name} exited (${signal ?? code}); stopping the fleet\n`);
        void this.shutdown(1);
      }
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the balancer ${b.cfg.name} did not listen within 20 s`)), 20_000);
      child.on("message", (m: { type?: string }) => {
        if (m.type === "listening") {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the balancer ${b.cfg.name} exited during start-up (${code}); is 127.0.0.1:${b.cfg.port} in use?`));
      });
    });
  }

  private async call<T>(b: BalancerProcess, op: string, args?: unknown): Promise<T> {
    if (!b.call || this.shuttingDown) throw new FleetUnavailableError(this.shuttingDown ? "the fleet is shutting down" : `the balancer ${b.cfg.name} is still starting`);
    try {
      return await b.call<T>(op, args);
    } catch (cause) {
      throw new FleetUnavailableError(`the balancer ${b.cfg.name} did not answer ${op}`, { cause });
    }
  }

  /** The balancers an instance is behind (whether registered there now or not). */
  private balancersOf(id: string): BalancerProcess[] {
    return [...this.balancers.values()].filter((b) => b.members.has(id));
  }

  /** Throws UnknownInstanceError naming the first unknown id: callers check before changing anything. */
  checkIds(ids: string[]): void {
    const unknown = ids.filter((id) => !this.instances.has(id));
    if (unknown.length) throw new UnknownInstanceError(`unknown instance ${unknown.join(", ")}; the fleet has ${[...this.instances.keys()].join(", ")}`);
  }

  /** Like checkIds, for the instances behind one balancer. */
  private checkMembers(b: BalancerProcess, ids: string[]): void {
    this.checkIds(ids);
    const outside = ids.filter((id) => !b.members.has(id));
    if (outside.length) throw new UnknownInstanceError(`${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not behind ${b.cfg.name}; it has ${[...b.members].join(", ")}`);
  }

  /** Every balancer's backends, by balancer name. */
  private async describeAll(): Promise<Map<string, LbDescribe>> {
    const entries = await Promise.all([...this.balancers.values()].map(async (b) => [b.cfg.name, await this.call<LbDescribe>(b, "describe")] as const));
    return new Map(entries);
  }

  /** For each instance, every balancer it is registered in now (deregistered, or draining, counts as out). */
  async memberships(): Promise<Record<string, string[]>> {
    const all = await this.describeAll();
    const out: Record<string, string[]> = Object.fromEntries([...this.instances.keys()].map((id) => [id, []]));
    for (const [name, lb] of all) for (const backend of lb.backends) if (backend.registered) out[backend.id]?.push(name);
    return out;
  }

  /** Apache instances: is the parent still there (it may die on its own, or be killed from outside)? */
  private async refreshApachePids(): Promise<void> {
    if (!this.apache) return;
    for (const inst of this.instances.values()) {
      inst.pid = await readPid(this.cfg.fleetDir, inst.id);
      if (inst.pid === null) inst.runningVersion = null;
    }
  }

  /** The instances behind one balancer, each with `alsoIn`: the other balancers it is registered in now. */
  async describeInstances(name: string): Promise<ControlInstance[]> {
    const target = this.balancer(name);
    const all = await this.describeAll();
    await this.refreshApachePids();
    const lb = all.get(name)!;
    const byId = new Map(lb.backends.map((b) => [b.id, b]));
    const registeredElsewhere = (id: string) => [...all].filter(([other, d]) => other !== name && d.backends.some((b) => b.id === id && b.registered)).map(([other]) => other);
    return [...this.instances.values()].filter((inst) => target.members.has(inst.id)).map((inst) => {
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
        alsoIn: registeredElsewhere(inst.id),
      };
      if (!b) {
        return { ...base, state: "unknown", description: "The balancer does not know this instance.", reasonCode: "N/A", inFlight: null, registered: false, counters: { inFlight: 0, requests: 0, backend5xx: 0, lb5xx: 0, errors: 0, retries: 0, drainCut: 0, clientAborts: 0 }, lastDrain: null } satisfies ControlInstance;
      }
      return { ...base, state: b.state, description: b.description, reasonCode: b.reasonCode, inFlight: b.inFlight, healthCheck: b.healthCheck, registered: b.registered, counters: b.counters, lastDrain: b.lastDrain } satisfies ControlInstance;
    });
  }

  /** Cumulative per-backend counters and latency histograms of one balancer (every backend, or `ids`, which must be behind it). */
  async backendStats(name: string, ids?: string[]): Promise<BackendStatsSnapshot> {
    const b = this.balancer(name);
    if (ids) this.checkMembers(b, ids);
    return this.call<BackendStatsSnapshot>(b, "stats", ids);
  }

  async loadBalancer(name: string): Promise<ControlLoadBalancer> {
    const b = this.balancer(name);
    const lb = await this.call<LbDescribe>(b, "describe");
    const kind = this.apache ? "Apache httpd + mod_perl" : "Node";
    const behind = b.members.size === this.instances.size ? `${this.instances.size} ${kind} instances` : `${b.members.size} of the ${this.instances.size} ${kind} instances (${[...b.members].join(", ")})`;
    return {
      name,
      provider: "local",
      kind: "local",
      drainTimeoutMs: lb.drainTimeoutMs,
      server: this.cfg.server,
      description: `Local fleet: balancer on 127.0.0.1:${b.cfg.port}, ${behind}`,
      address: `127.0.0.1:${b.cfg.port}`,
      healthCheck: lb.healthCheck,
      totals: lb.totals,
    };
  }

  loadBalancers(): Promise<ControlLoadBalancer[]> {
    return Promise.all([...this.balancers.keys()].map((name) => this.loadBalancer(name)));
  }

  async settings(name: string, s: SettingsBody): Promise<void> {
    await this.call(this.balancer(name), "settings", s);
  }

  async register(name: string, ids: string[]): Promise<void> {
    const b = this.balancer(name);
    this.checkMembers(b, ids);
    await this.call(b, "register", ids);
  }

  async deregister(name: string, ids: string[]): Promise<void> {
    const b = this.balancer(name);
    this.checkMembers(b, ids);
    const holdMs: Record<string, number> = {};
    const current = await this.describeInstances(name);
    for (const id of ids) {
      // The slow-drain fault fires on a real deregistration only (not on an idempotent repeat).
      if (!current.find((c) => c.id === id)?.registered) continue;
      const f = this.faults.take("slow-drain", id);
      if (f) holdMs[id] = f.holdMs ?? 8_000;
    }
    await this.call(b, "deregister", { ids, holdMs });
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
        // A process that never says it listens fails the step within ROTOR_START_TIMEOUT_MS (default 60 s),
        // not after the rollout's whole hook timeout (10 min): the operator sees "did not listen" at once.
        else if (hook === "start") outcome = await startHook(this.ctx, inst, Math.min(timeoutMs ?? 20_000, this.cfg.startTimeoutMs), out);
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

  /** Tells an instance's server the faults on its own answers (Apache: only an all-500 flag, see injectFault). */
  private async pushAppFaults(inst: InstanceRecord | undefined): Promise<void> {
    if (!inst) return;
    const faults = this.faults.appFaults(inst.id);
    if (this.apache) await setBackend500(this.cfg.fleetDir, inst.id, faults.backend500 !== null);
    else inst.child?.send({ type: "fault", ...faults });
  }

  private async applyFaults(inst: InstanceRecord): Promise<void> {
    const health = this.faults.has("health-fails-after-start", inst.id);
    if (health) {
      health.active = true;
      await this.healthFault(inst.id, true);
    }
    if (this.faults.has("backend-500", inst.id) || this.faults.has("slow-responses", inst.id)) await this.pushAppFaults(inst);
  }

  /** A failing health check is the instance's: every balancer it is behind sees it. */
  private async healthFault(id: string, failing: boolean): Promise<void> {
    await Promise.all(this.balancersOf(id).map((b) => this.call(b, "healthFault", { id, failing })));
  }

  async injectFault(body: FaultBody): Promise<Fault[]> {
    this.checkIds([body.instanceId]);
    if (this.apache && (body.kind === "slow-responses" || body.rate !== undefined || body.onVersion !== undefined)) {
      throw new GroupRefusal(400, "FAULT_NOT_SUPPORTED", `the Apache instances support backend-500 on every answer only (no rate, onVersion or slow-responses); run the Node fleet for ${body.kind}${body.onVersion ? " on a version" : ""}`);
    }
    this.faults.add(body);
    if (APP_FAULT_KINDS.includes(body.kind)) await this.pushAppFaults(this.instances.get(body.instanceId));
    return this.faults.list();
  }

  async clearFaults(): Promise<Fault[]> {
    for (const f of this.faults.clear()) {
      if (f.kind === "health-fails-after-start") await this.healthFault(f.instanceId, false);
      if (APP_FAULT_KINDS.includes(f.kind)) await this.pushAppFaults(this.instances.get(f.instanceId));
    }
    return this.faults.list();
  }

  async reset(): Promise<void> {
    await this.clearFaults();
    this.traffic.reset();
    await Promise.all([...this.balancers.values()].map((b) => this.call(b, "reset")));
  }

  childPids(): number[] {
    const pids = [...[...this.balancers.values()].map((b) => b.child?.pid), ...[...this.instances.values()].map((i) => i.child?.pid ?? i.pid)];
    return pids.filter((p): p is number => typeof p === "number");
  }

  /** Stops traffic, every instance (SIGTERM, SIGKILL after 3 s) and the balancer; then exits. */
  async shutdown(code = 0): Promise<never> {
    if (this.shuttingDown) return new Promise<never>(() => undefined);
    this.shuttingDown = true;
    this.groupRef?.close();
    this.traffic.close();
    if (this.apache) await Promise.all([...this.instances.values()].map((i) => killApache(this.cfg.fleetDir, i).catch(() => undefined)));
    const children = [...[...this.instances.values()].map((i) => i.child), ...[...this.balancers.values()].map((b) => b.child)].filter((c): c is ChildProcess => c !== null && c.exitCode === null && c.signalCode === null);
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
