/**
 * The AWS provider: Classic ELBs (`my-elb`) and ALB/NLB instance target groups (`tg_my-tg`) behind
 * the provider port, hooks through SSM Run Command, EC2 for names and zones. See README.md here.
 */
import { z } from "zod";
import type { HookName } from "@/lib/rollout/types";
import { VERSION_MESSAGE, isVersion } from "@/lib/validation/version";
import { type LbBackend, TtlCache } from "@/server/providers/aws/backend";
import { AutoScalingGroups } from "@/server/providers/aws/autoscaling";
import { AwsCaller, isThrottling, type CallerDeps } from "@/server/providers/aws/calls";
import { ClassicBalancers } from "@/server/providers/aws/classic";
import { CloudWatchAnalysis } from "@/server/providers/aws/cloudwatch";
import { type AwsClients, type ClientOptions, createClients, destroyClients, watchThrottling } from "@/server/providers/aws/clients";
import { type AwsConfig, type AwsConfigInput, loadAwsConfig, parseAwsConfig } from "@/server/providers/aws/config";
import { Ec2Directory } from "@/server/providers/aws/ec2";
import { type Ec2Info, type LbRef, instanceView, parseHookVersion, parseInFlight, parseLbName, rotorLbName } from "@/server/providers/aws/reshape";
import { MembershipIndex, type Memberships } from "@/server/providers/aws/membership";
import { AwsScalingGroups } from "@/server/providers/aws/scaling-groups";
import { SEND_COMMAND_MAX_IDS, SsmHooks } from "@/server/providers/aws/ssm";
import { TargetGroups } from "@/server/providers/aws/target-groups";
import {
  ProviderError,
  type HookOptions,
  type HookParams,
  type HookResult,
  type InstanceView,
  type BatchAnalysisSource,
  type LoadBalancerProvider,
  type LoadBalancerSummary,
  type ProviderWarning,
  type TrafficStats,
} from "@/server/providers/types";

export { loadAwsConfig, parseAwsConfig, type AwsConfig, type AwsConfigInput } from "@/server/providers/aws/config";
export { hookDocument } from "@/server/providers/aws/ssm";

const instanceIds = z.array(z.string().regex(/^i-[0-9a-f]{8,17}$/, "an EC2 instance id such as i-0123456789abcdef0")).max(1_000);
const PROBE_TIMEOUT_MS = 30_000;
/** A version the hook read stays valid this long (Rotor's own deploys write the tag instead). */
const HOOK_VERSION_TTL_MS = 10 * 60_000;
/** An instance whose version hook failed is asked again after this long, not on every refresh. */
const HOOK_VERSION_RETRY_MS = 60_000;

export interface AwsProviderDeps extends ClientOptions, CallerDeps {
  /** Pre-built clients (tests); otherwise built from config. */
  clients?: AwsClients;
  /** Waits between SSM polls (tests). */
  sleep?: (ms: number) => Promise<void>;
}

export class AwsProvider implements LoadBalancerProvider {
  readonly name = "aws" as const;
  private readonly clients: AwsClients;
  private readonly caller: AwsCaller;
  private readonly classic: ClassicBalancers;
  private readonly targetGroups: TargetGroups;
  private readonly ec2: Ec2Directory;
  private readonly ssm: SsmHooks;
  private readonly membership: MembershipIndex;
  /** Replacing instances through their Auto Scaling group (the `replace` strategy), see scaling-groups.ts. */
  readonly groups: AwsScalingGroups;
  /** CloudWatch alarms and load balancer metrics (no per-instance snapshot: see cloudwatch.ts). */
  readonly analysis: BatchAnalysisSource;
  private readonly now: () => number;
  /**
   * Instances Rotor took out of rotation, per load balancer: AWS stops listing them once drained,
   * but the fleet table and the engine still need to see them, out of service, until registered again.
   * The value is when the deregistration returned (Infinity while in flight): only a refresh begun
   * after it may conclude the instance is back in rotation.
   */
  private readonly outOfRotation = new Map<string, Map<string, number>>();
  private readonly refreshes = new Map<string, { at: number; value: Promise<InstanceView[]> }>();
  private readonly inFlight = new Map<string, { value: number; at: number }>();
  private probing = false;
  /** Versions the version hook read, for instances without a version tag (null: the hook could not tell). */
  private readonly hookVersions = new Map<string, { version: string | null; at: number }>();
  private askingVersions = false;
  /** Configured names the last listing did not find in AWS, with the sentence that says so. */
  private unknownNames = new Map<string, string>();
  private readonly summaries: TtlCache<LoadBalancerSummary[]>;

  constructor(
    readonly config: AwsConfig,
    deps: AwsProviderDeps = {},
  ) {
    this.clients = deps.clients ?? createClients(config, deps);
    this.now = deps.now ?? Date.now;
    this.caller = new AwsCaller(deps);
    watchThrottling(this.clients, isThrottling, (operation, attempt) => this.caller.throttled({ operation, attempt }));
    this.classic = new ClassicBalancers(this.clients, this.caller, config.cache.attributesTtlMs);
    this.targetGroups = new TargetGroups(this.clients, this.caller, config.cache.attributesTtlMs);
    this.ec2 = new Ec2Directory(this.clients, this.caller, { ttlMs: config.cache.ec2TtlMs, versionTag: config.versionTag, now: this.now });
    this.ssm = new SsmHooks(this.clients, this.caller, config, { sleep: deps.sleep, now: this.now });
    this.summaries = new TtlCache(config.cache.attributesTtlMs, this.now);
    this.membership = new MembershipIndex(this.classic, this.targetGroups, config.loadBalancers ?? undefined, config.cache.attributesTtlMs, this.now);
    const cloudwatch = new CloudWatchAnalysis(this.clients, this.caller);
    this.analysis = {
      alarms: (names) => cloudwatch.alarms(names),
      lbMetrics: (lb, from, to) => {
        this.backend(lb);
        return cloudwatch.lbMetrics(lb, from, to);
      },
    };
    this.groups = new AwsScalingGroups(this.clients, this.caller, new AutoScalingGroups(this.clients, this.caller), { members: (lb) => this.members(lb), scope: config.loadBalancers });
  }

  /** The instances registered at `lb` now, read fresh (draining ones are on their way out, so not counted). */
  private async members(lb: string): Promise<{ ref: LbRef; ids: string[] }> {
    const { backend, awsName } = this.backend(lb);
    const health = await backend.health(awsName, new Set());
    return { ref: parseLbName(lb), ids: health.filter((h) => h.registered && h.state !== "draining").map((h) => h.id) };
  }

  /**
   * Every Classic ELB and instance target group (or those configured). A configured name AWS does not
   * know is listed with its `problem` sentence: it affects only itself, the others work as ever.
   */
  listLoadBalancers(): Promise<LoadBalancerSummary[]> {
    return this.summaries.get("all", () => this.fetchSummaries());
  }

  private async fetchSummaries(): Promise<LoadBalancerSummary[]> {
    const [classic, groups] = await Promise.all([this.classic.list(), this.targetGroups.list()]);
    const all = [
      ...classic.map((c) => ({ name: rotorLbName({ kind: "classic", awsName: c.awsName }), kind: "classic" as const, description: `Classic ELB ${c.dnsName ?? c.awsName}` })),
      ...groups.map((g) => ({
        name: rotorLbName({ kind: "target-group", awsName: g.awsName }),
        kind: "target-group" as const,
        description: `Target group ${g.awsName} (${g.protocol ?? "?"}:${g.port ?? "?"}${g.loadBalancerArns.length ? "" : ", not attached to a load balancer"})`,
      })),
    ];
    const wanted = this.config.loadBalancers;
    const unknown = new Map<string, string>();
    for (const name of wanted ?? []) {
      if (all.some((a) => a.name === name)) continue;
      const known = all.map((a) => a.name).join(", ") || "none";
      unknown.set(
        name,
        `ROTOR_AWS_LOAD_BALANCERS names ${name}, which AWS does not have${this.config.region ? ` in ${this.config.region}` : ""} (found: ${known}; target groups are named tg_<name>): correct the name or remove it from ROTOR_AWS_LOAD_BALANCERS.`,
      );
    }
    this.unknownNames = unknown;
    const shown = wanted ? all.filter((a) => wanted.includes(a.name)) : all;
    const listed: LoadBalancerSummary[] = await Promise.all(shown.map(async (s) => ({ ...s, provider: "aws" as const, drainTimeoutMs: await this.drainTimeoutMs(s.name) })));
    for (const [name, problem] of unknown) listed.push({ name, provider: "aws", kind: parseLbName(name).kind, drainTimeoutMs: 0, problem });
    return listed;
  }

  private backend(lb: string): { backend: LbBackend; awsName: string } {
    if (this.config.loadBalancers && !this.config.loadBalancers.includes(lb)) {
      throw new ProviderError("NOT_FOUND", `load balancer ${lb} is not among ROTOR_AWS_LOAD_BALANCERS`);
    }
    // Known unknown (from the last listing): say so without asking AWS again on every poll.
    const problem = this.unknownNames.get(lb);
    if (problem) throw new ProviderError("CONFIG", problem);
    const ref = parseLbName(lb);
    return { backend: ref.kind === "classic" ? this.classic : this.targetGroups, awsName: ref.awsName };
  }

  private outOf(lb: string): Map<string, number> {
    let set = this.outOfRotation.get(lb);
    if (!set) this.outOfRotation.set(lb, (set = new Map()));
    return set;
  }

  /** Every load balancer in scope each instance is registered in, read now (see membership.ts). */
  async memberships(ids: string[]): Promise<Record<string, string[]>> {
    const index = await this.membership.fresh();
    return Object.fromEntries(this.checkIds(ids).map((id) => [id, [...(index.get(id) ?? [])]]));
  }

  /** The cached index for the fleet table; a failure costs the "also in" column, never the listing. */
  private async cachedMemberships(lb: string): Promise<Memberships | null> {
    try {
      return await this.membership.cached();
    } catch (err) {
      this.caller.warn({ code: err instanceof ProviderError ? err.code : "INTERNAL", message: `other load balancers not shown: ${err instanceof Error ? err.message : String(err)}`, lb });
      return null;
    }
  }

  drainTimeoutMs(lb: string): Promise<number> {
    const { backend, awsName } = this.backend(lb);
    return backend.drainTimeoutMs(awsName);
  }

  /** Concurrent callers share one refresh; one younger than `minRefreshMs` is reused. */
  describeInstances(lb: string, options: { include?: readonly string[] } = {}): Promise<InstanceView[]> {
    const hit = this.refreshes.get(lb);
    if (hit && this.now() - hit.at <= this.config.cache.minRefreshMs) return hit.value;
    const value = this.refresh(lb, options.include ?? []);
    this.refreshes.set(lb, { at: this.now(), value });
    value.catch(() => this.refreshes.delete(lb));
    return value;
  }

  /**
   * `include`: instances a rollout's durable state holds out of rotation here. After a restart this
   * process no longer remembers deregistering them, and AWS stops listing them; asking by id keeps
   * their real state (still draining, or out) in the table and in the engine's waits.
   */
  private async refresh(lb: string, include: readonly string[]): Promise<InstanceView[]> {
    const { backend, awsName } = this.backend(lb);
    const out = this.outOf(lb);
    const began = this.now();
    const health = await backend.health(awsName, new Set([...out.keys(), ...include]));
    const [ec2, memberships] = await Promise.all([this.ec2.lookup(health.map((h) => h.id)), this.cachedMemberships(lb)]);
    const views: InstanceView[] = [];
    for (const h of health) {
      const info = ec2.get(h.id);
      // Taken out by Rotor and since terminated (or gone from EC2): no longer part of the fleet.
      if (!h.registered && (!info || info.ec2State === "terminated")) {
        out.delete(h.id);
        continue;
      }
      // Back in rotation (by Rotor or anyone else): AWS lists it again.
      if (h.registered && (h.state === "in-service" || h.state === "registering") && began > (out.get(h.id) ?? -Infinity)) out.delete(h.id);
      const view = instanceView(h.id, h, info, this.inFlightOf(h.id));
      const alsoIn = memberships?.get(h.id)?.filter((name) => name !== lb);
      if (alsoIn && alsoIn.length > 0) view.alsoIn = [...alsoIn];
      views.push(view);
    }
    this.addHookVersions(lb, views, out, ec2);
    if (this.config.inFlightCommand) {
      // Probe while draining, and after the load balancer calls the drain done until the instance itself reads 0.
      const probe = views.filter((v) => v.state === "draining" || (v.state === "out-of-service" && out.has(v.id) && v.inFlight !== 0));
      this.probeInFlight(lb, probe.map((v) => v.id));
    }
    return views;
  }

  private inFlightOf(id: string): number | null {
    const hit = this.inFlight.get(id);
    return hit && this.now() - hit.at <= PROBE_TIMEOUT_MS ? hit.value : null;
  }

  /** Runs the in-flight probe on draining instances in the background; results feed later refreshes. */
  private probeInFlight(lb: string, ids: string[]): void {
    if (this.probing || ids.length === 0) return;
    this.probing = true;
    this.ssm
      .run(ids, "probe", "none", { lb, timeoutMs: PROBE_TIMEOUT_MS })
      .then((results) => {
        for (const r of results) {
          const value = r.ok ? parseInFlight(r.outputTail) : null;
          if (value !== null) this.inFlight.set(r.id, { value, at: this.now() });
        }
      })
      .catch((err: unknown) => this.caller.warn({ code: "INTERNAL", message: `in-flight probe failed: ${err instanceof Error ? err.message : String(err)}`, lb }))
      .finally(() => {
        this.probing = false;
      });
  }

  /**
   * Versions for instances without a version tag: the version hook's answer where one is cached, and
   * a background ask (at most one command, of at most 50 instances, at a time) for the rest. Instances
   * Rotor took out of rotation are not asked: a rollout is changing them, and verify tags them.
   */
  private addHookVersions(lb: string, views: InstanceView[], out: ReadonlyMap<string, number>, ec2: ReadonlyMap<string, Ec2Info>): void {
    const now = this.now();
    const ask: string[] = [];
    for (const v of views) {
      if (v.version !== null) {
        v.versionSource = "tag";
        continue;
      }
      const hit = this.hookVersions.get(v.id);
      if (hit?.version) {
        v.version = hit.version;
        v.versionSource = "hook";
      }
      const fresh = hit && now - hit.at <= (hit.version ? HOOK_VERSION_TTL_MS : HOOK_VERSION_RETRY_MS);
      if (!fresh && this.config.versionHook && !out.has(v.id) && ec2.get(v.id)?.ec2State === "running") ask.push(v.id);
    }
    this.askVersions(lb, ask.slice(0, SEND_COMMAND_MAX_IDS));
  }

  private askVersions(lb: string, ids: string[]): void {
    if (this.askingVersions || ids.length === 0) return;
    this.askingVersions = true;
    this.ssm
      .run(ids, "version", "none", { lb, timeoutMs: PROBE_TIMEOUT_MS })
      .then((results) => {
        for (const r of results) this.hookVersions.set(r.id, { version: r.ok ? parseHookVersion(r.outputTail) : null, at: this.now() });
        this.refreshes.delete(lb);
      })
      .catch((err: unknown) => {
        for (const id of ids) this.hookVersions.set(id, { version: null, at: this.now() });
        this.caller.warn({ code: "INTERNAL", message: `version hook failed: ${err instanceof Error ? err.message : String(err)}`, lb });
      })
      .finally(() => {
        this.askingVersions = false;
      });
  }

  private checkIds(ids: string[]): string[] {
    const parsed = instanceIds.safeParse(ids);
    if (!parsed.success) throw new ProviderError("INVALID_INPUT", `invalid instance ids: ${parsed.error.issues[0]?.message ?? "?"}`);
    return [...new Set(parsed.data)];
  }

  async deregister(lb: string, ids: string[]): Promise<void> {
    const checked = this.checkIds(ids);
    if (checked.length === 0) return;
    const { backend, awsName } = this.backend(lb);
    const out = this.outOf(lb);
    for (const id of checked) {
      out.set(id, Infinity);
      this.inFlight.delete(id);
      this.hookVersions.delete(id);
    }
    this.refreshes.delete(lb);
    try {
      await backend.deregister(awsName, checked);
      this.membership.record(lb, checked, false);
    } finally {
      for (const id of checked) if (out.has(id)) out.set(id, this.now());
    }
    this.refreshes.delete(lb);
  }

  async register(lb: string, ids: string[]): Promise<void> {
    const checked = this.checkIds(ids);
    if (checked.length === 0) return;
    const { backend, awsName } = this.backend(lb);
    this.refreshes.delete(lb);
    await backend.register(awsName, checked);
    this.membership.record(lb, checked, true);
    for (const id of checked) {
      this.outOf(lb).delete(id);
      this.inFlight.delete(id);
      this.hookVersions.delete(id);
    }
    this.refreshes.delete(lb);
  }

  async runHook(lb: string, ids: string[], hook: HookName, params: HookParams, options: HookOptions): Promise<HookResult[]> {
    // Before anything touches AWS: a version is data matching lib's version rule, or nothing runs.
    if (!isVersion(params.version)) {
      throw new ProviderError("INVALID_INPUT", `version ${JSON.stringify(params.version).slice(0, 140)} is not allowed: ${VERSION_MESSAGE}`);
    }
    const checked = this.checkIds(ids);
    this.backend(lb);
    const results = await this.ssm.run(checked, hook, params.version, { lb, timeoutMs: options.timeoutMs, signal: options.signal, onSent: options.onSent, resume: options.resume });
    const byId = new Map(results.map((r) => [r.id, r]));
    if (hook === "verify") {
      const verified = results.filter((r) => r.ok).map((r) => r.id);
      for (const id of checked) this.hookVersions.delete(id);
      try {
        await this.ec2.tagVersion(verified, params.version);
      } catch (err) {
        this.caller.warn({ code: "INTERNAL", message: `could not record version ${params.version} in tag ${this.config.versionTag}: ${err instanceof Error ? err.message : String(err)}`, lb });
      }
      this.refreshes.delete(lb);
    }
    return ids.map((id) => byId.get(id) ?? { id, ok: false, exitCode: null, durationMs: 0, outputTail: "rotor: no result" });
  }

  async trafficStats(): Promise<TrafficStats | null> {
    return null;
  }

  warnings(since?: number): ProviderWarning[] {
    return this.caller.warnings(since);
  }

  async close(): Promise<void> {
    destroyClients(this.clients);
  }
}

/** Builds the provider from configuration (default: the environment, see README.md). */
export function createAwsProvider(config: AwsConfig | AwsConfigInput = loadAwsConfig(), deps: AwsProviderDeps = {}): AwsProvider {
  return new AwsProvider(parseAwsConfig(config), deps);
}
