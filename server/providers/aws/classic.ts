/**
 * Classic ELB (`@aws-sdk/client-elastic-load-balancing`). One refresh is one DescribeInstanceHealth
 * for every registered instance at once, plus one more only when Rotor knows of instances that are
 * no longer in the list (deregistered, draining). The drain timeout (ConnectionDraining) is cached.
 */
import {
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  RegisterInstancesWithLoadBalancerCommand,
  type DescribeLoadBalancersCommandOutput,
} from "@aws-sdk/client-elastic-load-balancing";
import { TtlCache, type LbBackend, type LbHealth } from "@/server/providers/aws/backend";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { classicDescription, classicState } from "@/server/providers/aws/reshape";
import { ProviderError } from "@/server/providers/types";

export interface ClassicSummary {
  awsName: string;
  dnsName?: string;
  instanceCount: number;
  /** Registered instances (draining ones are no longer listed). */
  instanceIds: string[];
}

export class ClassicBalancers implements LbBackend {
  private readonly drainCache: TtlCache<number>;

  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
    attributesTtlMs: number,
  ) {
    this.drainCache = new TtlCache(attributesTtlMs);
  }

  async list(): Promise<ClassicSummary[]> {
    const out: ClassicSummary[] = [];
    let marker: string | undefined;
    do {
      const page: DescribeLoadBalancersCommandOutput = await this.caller.call("DescribeLoadBalancers", () =>
        this.clients.elb.send(new DescribeLoadBalancersCommand({ Marker: marker, PageSize: 400 })),
      );
      for (const d of page.LoadBalancerDescriptions ?? []) {
        if (d.LoadBalancerName) out.push({ awsName: d.LoadBalancerName, dnsName: d.DNSName, instanceCount: d.Instances?.length ?? 0, instanceIds: [...new Set((d.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : [])))] });
      }
      marker = page.NextMarker;
    } while (marker);
    return out;
  }

  drainTimeoutMs(awsName: string): Promise<number> {
    return this.drainCache.get(awsName, async () => {
      const out = await this.caller.call(
        `DescribeLoadBalancerAttributes ${awsName}`,
        () => this.clients.elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName: awsName })),
        awsName,
      );
      const draining = out.LoadBalancerAttributes?.ConnectionDraining;
      // Draining off: deregistration cuts in-flight requests at once.
      return draining?.Enabled ? (draining.Timeout ?? 300) * 1000 : 0;
    });
  }

  async health(awsName: string, known: ReadonlySet<string>): Promise<LbHealth[]> {
    const registered = await this.caller.call(
      `DescribeInstanceHealth ${awsName}`,
      () => this.clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: awsName })),
      awsName,
    );
    const out: LbHealth[] = [];
    const seen = new Set<string>();
    for (const s of registered.InstanceStates ?? []) {
      // moto lists an instance registered twice twice.
      if (!s.InstanceId || seen.has(s.InstanceId)) continue;
      seen.add(s.InstanceId);
      const h = { state: s.State, reasonCode: s.ReasonCode, description: s.Description };
      out.push({ id: s.InstanceId, registered: true, state: classicState(h, true), description: classicDescription(h, true), reasonCode: s.ReasonCode });
    }
    const missing = [...known].filter((id) => !seen.has(id));
    if (missing.length === 0) return out;
    // Instances out of the list: still draining ("Instance deregistration currently in progress.") or gone.
    let states: { InstanceId?: string; State?: string; ReasonCode?: string; Description?: string }[] = [];
    try {
      const more = await this.caller.call(
        `DescribeInstanceHealth ${awsName} (${missing.length} not registered)`,
        () => this.clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: awsName, Instances: missing.map((InstanceId) => ({ InstanceId })) })),
        awsName,
      );
      states = more.InstanceStates ?? [];
    } catch (err) {
      // InvalidInstance: an instance that no longer exists; report them all as not registered.
      if (!(err instanceof ProviderError && err.code === "INVALID_INPUT")) throw err;
    }
    const byId = new Map(states.map((s) => [s.InstanceId, s]));
    for (const id of missing) {
      const s = byId.get(id);
      const h = { state: s?.State, reasonCode: s?.ReasonCode, description: s?.Description };
      out.push({ id, registered: false, state: classicState(h, false), description: classicDescription(h, false), reasonCode: s?.ReasonCode });
    }
    return out;
  }

  async register(awsName: string, ids: string[]): Promise<void> {
    await this.caller.call(
      `RegisterInstancesWithLoadBalancer ${awsName}`,
      () => this.clients.elb.send(new RegisterInstancesWithLoadBalancerCommand({ LoadBalancerName: awsName, Instances: ids.map((InstanceId) => ({ InstanceId })) })),
      awsName,
    );
  }

  /** Returns at once even with connection draining on: the drain is observed through health(). */
  async deregister(awsName: string, ids: string[]): Promise<void> {
    await this.caller.call(
      `DeregisterInstancesFromLoadBalancer ${awsName}`,
      () => this.clients.elb.send(new DeregisterInstancesFromLoadBalancerCommand({ LoadBalancerName: awsName, Instances: ids.map((InstanceId) => ({ InstanceId })) })),
      awsName,
    );
  }
}
