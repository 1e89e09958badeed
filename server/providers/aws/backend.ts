/** What the provider needs from either kind of AWS load balancer, and a small cache both use. */
import type { LbState } from "@/lib/rollout/types";

export interface LbHealth {
  id: string;
  registered: boolean;
  state: LbState;
  description: string;
  reasonCode?: string;
}

/** What the provider needs from a Classic ELB or a target group. */
export interface LbBackend {
  health(awsName: string, known: ReadonlySet<string>): Promise<LbHealth[]>;
  drainTimeoutMs(awsName: string): Promise<number>;
  register(awsName: string, ids: string[]): Promise<void>;
  deregister(awsName: string, ids: string[]): Promise<void>;
}

/** A value per key, recomputed after ttlMs; concurrent readers share one computation. */
export class TtlCache<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}
  get(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at <= this.ttlMs) return hit.value;
    const value = compute();
    this.entries.set(key, { at: this.now(), value });
    value.catch(() => this.entries.delete(key));
    return value;
  }
}
