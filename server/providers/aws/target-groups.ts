/**
 * ALB/NLB target groups (`-v2`) of target type `instance`. One refresh is one DescribeTargetHealth
 * (it lists draining targets too); targets Rotor knows of that are no longer listed are reported as
 * not registered without another call. The deregistration delay is cached.
 */
import {
  DeregisterTargetsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  type DescribeTargetGroupsCommandOutput,
  type TargetDescription,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import type { AwsCaller } from "@/server/providers/aws/calls";
import type { AwsClients } from "@/server/providers/aws/clients";
import { TtlCache, type LbBackend, type LbHealth } from "@/server/providers/aws/backend";
import { targetDescription, targetState } from "@/server/providers/aws/reshape";
import { ProviderError } from "@/server/providers/types";

export interface TargetGroupSummary {
  awsName: string;
  arn: string;
  protocol?: string;
  port?: number;
  loadBalancerArns: string[];
}

const NOT_REGISTERED = "Target is not registered to the target group";

export class TargetGroups implements LbBackend {
  private readonly arns = new Map<string, string>();
  /** Port each target was last seen registered on, so deregistering a port override works. */
  private readonly ports = new Map<string, number>();
  private readonly drainCache: TtlCache<number>;

  constructor(
    private readonly clients: AwsClients,
    private readonly caller: AwsCaller,
    attributesTtlMs: number,
  ) {
    this.drainCache = new TtlCache(attributesTtlMs);
  }

  async list(): Promise<TargetGroupSummary[]> {
    const out: TargetGroupSummary[] = [];
    let marker: string | undefined;
    do {
      const page: DescribeTargetGroupsCommandOutput = await this.caller.call("DescribeTargetGroups", () =>
        this.clients.elbv2.send(new DescribeTargetGroupsCommand({ Marker: marker, PageSize: 400 })),
      );
      for (const tg of page.TargetGroups ?? []) {
        if (!tg.TargetGroupName || !tg.TargetGroupArn) continue;
        // ip and lambda targets are not EC2 instances Rotor can run hooks on.
        if (tg.TargetType && tg.TargetType !== "instance") continue;
        this.arns.set(tg.TargetGroupName, tg.TargetGroupArn);
        out.push({ awsName: tg.TargetGroupName, arn: tg.TargetGroupArn, protocol: tg.Protocol, port: tg.Port, loadBalancerArns: tg.LoadBalancerArns ?? [] });
      }
      marker = page.NextMarker;
    } while (marker);
    return out;
  }

  private async arn(awsName: string): Promise<string> {
    const known = this.arns.get(awsName);
    if (known) return known;
    const out = await this.caller.call(`DescribeTargetGroups ${awsName}`, () => this.clients.elbv2.send(new DescribeTargetGroupsCommand({ Names: [awsName] })), awsName);
    const arn = out.TargetGroups?.[0]?.TargetGroupArn;
    if (!arn) throw new ProviderError("NOT_FOUND", `target group ${awsName} not found`);
    this.arns.set(awsName, arn);
    return arn;
  }

  drainTimeoutMs(awsName: string): Promise<number> {
    return this.drainCache.get(awsName, async () => {
      const arn = await this.arn(awsName);
      const out = await this.caller.call(
        `DescribeTargetGroupAttributes ${awsName}`,
        () => this.clients.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })),
        awsName,
      );
      const value = out.Attributes?.find((a) => a.Key === "deregistration_delay.timeout_seconds")?.Value;
      const seconds = value === undefined ? 300 : Number(value);
      return Number.isFinite(seconds) ? seconds * 1000 : 300_000;
    });
  }

  async health(awsName: string, known: ReadonlySet<string>): Promise<LbHealth[]> {
    const arn = await this.arn(awsName);
    const res = await this.caller.call(`DescribeTargetHealth ${awsName}`, () => this.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })), awsName);
    const out: LbHealth[] = [];
    const seen = new Set<string>();
    for (const d of res.TargetHealthDescriptions ?? []) {
      const id = d.Target?.Id;
      if (!id || seen.has(id)) continue;
      seen.add(id);
      if (d.Target?.Port !== undefined) this.ports.set(`${awsName}/${id}`, d.Target.Port);
      const h = { state: d.TargetHealth?.State, reason: d.TargetHealth?.Reason, description: d.TargetHealth?.Description };
      out.push({ id, registered: h.state !== "unused" || h.reason !== "Target.NotRegistered", state: targetState(h), description: targetDescription(h), reasonCode: h.reason });
    }
    for (const id of known) {
      if (!seen.has(id)) out.push({ id, registered: false, state: "out-of-service", description: NOT_REGISTERED, reasonCode: "Target.NotRegistered" });
    }
    return out;
  }

  private targets(awsName: string, ids: string[]): TargetDescription[] {
    return ids.map((Id) => {
      const Port = this.ports.get(`${awsName}/${Id}`);
      return Port === undefined ? { Id } : { Id, Port };
    });
  }

  async register(awsName: string, ids: string[]): Promise<void> {
    const arn = await this.arn(awsName);
    await this.caller.call(`RegisterTargets ${awsName}`, () => this.clients.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: this.targets(awsName, ids) })), awsName);
  }

  /** Idempotent: AWS accepts a target that is not registered; some emulators refuse, so retry with only the registered ones. */
  async deregister(awsName: string, ids: string[]): Promise<void> {
    const arn = await this.arn(awsName);
    const send = (targets: string[]) =>
      this.caller.call(`DeregisterTargets ${awsName}`, () => this.clients.elbv2.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: this.targets(awsName, targets) })), awsName);
    try {
      await send(ids);
    } catch (err) {
      if (!(err instanceof ProviderError && err.code === "INVALID_INPUT")) throw err;
      const registered = new Set((await this.health(awsName, new Set())).filter((h) => h.registered && h.state !== "draining").map((h) => h.id));
      const remaining = ids.filter((id) => registered.has(id));
      if (remaining.length > 0) await send(remaining);
    }
  }
}
