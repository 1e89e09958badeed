/**
 * Which load balancers each instance serves: every Classic ELB and instance target group in scope
 * (ROTOR_AWS_LOAD_BALANCERS, or all of them), by Rotor name. One read costs DescribeLoadBalancers
 * (its pages list each Classic ELB's registered instances), DescribeTargetGroups and one
 * DescribeTargetHealth per target group in scope, whatever the number of instances.
 *
 * Two ways to read it:
 * - `fresh()` for a rollout's start: read now, and throw naming the call and the permission when any
 *   part cannot be read (a partial answer would leave a stopped server registered somewhere);
 * - `cached()` for the fleet table's "also in" column: at most one read per TTL, shared by every
 *   refresh, so a refresh costs the same calls as before.
 */
import type { ClassicBalancers } from "@/server/providers/aws/classic";
import { rotorLbName } from "@/server/providers/aws/reshape";
import type { TargetGroups } from "@/server/providers/aws/target-groups";
import { ProviderError } from "@/server/providers/types";

/** Instance id → the Rotor names of every load balancer it is registered in (sorted). */
export type Memberships = ReadonlyMap<string, readonly string[]>;

const PERMISSIONS = "elasticloadbalancing:DescribeLoadBalancers, elasticloadbalancing:DescribeTargetGroups and elasticloadbalancing:DescribeTargetHealth";

export class MembershipIndex {
  private last: { at: number; value: Promise<Memberships> } | null = null;
  /** Reads of the whole index so far (the benchmark counts them). */
  reads = 0;

  constructor(
    private readonly classic: ClassicBalancers,
    private readonly targetGroups: TargetGroups,
    private readonly scope: readonly string[] | undefined,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private inScope(name: string): boolean {
    return !this.scope || this.scope.includes(name);
  }

  /** Reads the index now; a failure names the call and what to add to Rotor's IAM policy. */
  fresh(): Promise<Memberships> {
    const value = this.read().catch((err: unknown) => {
      const code = err instanceof ProviderError ? err.code : "INTERNAL";
      const message = err instanceof Error ? err.message : String(err);
      throw new ProviderError(code, `${message}. Rotor reads which load balancers an instance serves with ${PERMISSIONS}; allow them on every load balancer in scope`, { cause: err });
    });
    this.last = { at: this.now(), value };
    value.catch(() => {
      if (this.last?.value === value) this.last = null;
    });
    return value;
  }

  /** The index at most `ttlMs` old; concurrent callers share one read. */
  cached(): Promise<Memberships> {
    if (this.last && this.now() - this.last.at <= this.ttlMs) return this.last.value;
    return this.fresh();
  }

  /**
   * After Rotor itself (de)registers: the cached index follows without another read (a read right
   * after a deregistration would cost every target group's health on the busiest poll of a batch).
   */
  record(lb: string, ids: readonly string[], registered: boolean): void {
    const last = this.last;
    if (!last) return;
    const value = last.value.then((index) => {
      const next = new Map(index);
      for (const id of ids) {
        const others = (next.get(id) ?? []).filter((name) => name !== lb);
        next.set(id, registered ? [...others, lb].sort() : others);
      }
      return next as Memberships;
    });
    value.catch(() => undefined);
    this.last = { at: last.at, value };
  }

  private async read(): Promise<Memberships> {
    this.reads++;
    const [classic, groups] = await Promise.all([this.classic.list(), this.targetGroups.list()]);
    const index = new Map<string, string[]>();
    const add = (id: string, lb: string) => {
      const list = index.get(id) ?? [];
      if (!list.includes(lb)) list.push(lb);
      index.set(id, list);
    };
    for (const c of classic) {
      const name = rotorLbName({ kind: "classic", awsName: c.awsName });
      if (this.inScope(name)) for (const id of c.instanceIds) add(id, name);
    }
    const wanted = groups.filter((g) => this.inScope(rotorLbName({ kind: "target-group", awsName: g.awsName })));
    const healths = await Promise.all(wanted.map((g) => this.targetGroups.health(g.awsName, new Set())));
    wanted.forEach((g, n) => {
      const name = rotorLbName({ kind: "target-group", awsName: g.awsName });
      // Draining targets are on their way out (someone deregistered them): not a membership to restore.
      for (const h of healths[n]!) if (h.registered && h.state !== "draining") add(h.id, name);
    });
    for (const list of index.values()) list.sort();
    return index;
  }
}
