/**
 * The shared fleet monitor: one poll loop per load balancer (describeInstances + trafficStats),
 * whatever the number of waiters and viewers. The engine's waits, the route handlers and the SSE
 * stream all read from here; nothing else polls the provider.
 *
 * Cadence adapts to who needs it:
 * - `fast` (a wait is in progress: drain, in-service): ROTOR_MONITOR_FAST_MS, 100 ms locally, 2 s for AWS;
 * - `active` (a rollout is running on the load balancer, or a viewer is subscribed): 500 ms locally, 5 s for AWS;
 * - idle (someone read a snapshot recently): 5 s locally, 30 s for AWS; after 60 s unread the loop stops.
 * Errors back off exponentially with jitter (up to 15 s) and are kept as `lastError` for the UI.
 *
 * Every refresh also merges in the instances active rollouts hold out of rotation (`heldOut`, read
 * from the rollouts' durable state): a provider may stop listing an instance once it is deregistered
 * (AWS does, once drained), and after a restart nothing in memory remembers it. Such an instance is
 * shown out of service with the rollout that holds it, so the fleet table, the planner and the
 * engine's waits all see the whole fleet.
 */
import type { InstanceView, LoadBalancerProvider, LoadBalancerSummary, TrafficStats } from "@/server/providers/types";
import { asProviderError } from "@/server/providers/types";
import type { ChangeBus } from "@/server/bus";
import { backoffDelay } from "@/server/backoff";
import { componentLog } from "@/server/log";
import type { HeldInstance, HeldOut } from "@/server/store/held";

export interface MonitorError {
  message: string;
  code: string;
  at: number;
}

export interface FleetSnapshot {
  lb: string;
  /** When the instances were last read successfully (null before the first success). */
  at: number | null;
  instances: InstanceView[];
  traffic: TrafficStats | null;
  /** The last failed refresh, kept until a refresh succeeds. */
  lastError: MonitorError | null;
  consecutiveErrors: number;
  /** The delay before the next refresh. */
  intervalMs: number;
  refreshes: number;
}

export interface MonitorIntervals {
  fastMs: number;
  activeMs: number;
  idleMs: number;
  maxBackoffMs: number;
  /** Stop polling a load balancer nobody read for this long. */
  idleStopMs: number;
}

export type SnapshotListener = (s: FleetSnapshot) => void;

function defaultIntervals(provider: LoadBalancerProvider): MonitorIntervals {
  const env = (k: string) => (process.env[k] ? Number(process.env[k]) : undefined);
  const aws = provider.name === "aws";
  return {
    fastMs: env("ROTOR_MONITOR_FAST_MS") ?? (aws ? 2_000 : 100),
    activeMs: env("ROTOR_MONITOR_ACTIVE_MS") ?? (aws ? 5_000 : 500),
    idleMs: env("ROTOR_MONITOR_IDLE_MS") ?? (aws ? 30_000 : 5_000),
    maxBackoffMs: 15_000,
    idleStopMs: 60_000,
  };
}

function toMonitorError(err: unknown, at: number): MonitorError {
  const provider = asProviderError(err);
  if (provider) return { message: provider.message, code: provider.code, at };
  return { message: err instanceof Error ? err.message : String(err), code: "INTERNAL", at };
}

/**
 * The provider's listing with the held instances merged in: a listed one gains `heldBy`; one the
 * provider no longer lists is added, out of service, described by the rollout that holds it.
 */
export function mergeHeld(listed: InstanceView[], held: readonly HeldInstance[]): InstanceView[] {
  if (held.length === 0) return listed;
  const byId = new Map<string, HeldInstance>();
  for (const h of held) if (!byId.has(h.id)) byId.set(h.id, h);
  const out = listed.map((i) => {
    const h = byId.get(i.id);
    if (!h) return i;
    byId.delete(i.id);
    return { ...i, heldBy: { rolloutId: h.rolloutId, lb: h.rolloutLb } };
  });
  for (const h of byId.values()) {
    out.push({
      id: h.id,
      zone: h.zone,
      state: "out-of-service",
      description: h.description,
      inFlight: null,
      version: h.version,
      heldBy: { rolloutId: h.rolloutId, lb: h.rolloutLb },
    });
  }
  return out;
}

/** What a viewer would notice: states, descriptions, versions, in-flight, holders, traffic counters, errors. */
function fingerprint(s: FleetSnapshot): string {
  const inst = s.instances.map((i) => `${i.id}|${i.state}|${i.description}|${i.version}|${i.inFlight}|${i.healthCheck?.ok}|${i.heldBy?.rolloutId}`).join(";");
  const t = s.traffic ? `${s.traffic.requests}|${s.traffic.failed}` : "";
  return `${inst}#${t}#${s.lastError?.message ?? ""}`;
}

class LbLoop {
  snap: FleetSnapshot;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<FleetSnapshot> | null = null;
  private stopped = false;
  private lastFingerprint = "";
  lastReadAt = Date.now();
  readonly listeners = new Map<SnapshotListener, { fast: boolean }>();
  active = false;

  constructor(
    readonly lb: string,
    private readonly provider: LoadBalancerProvider,
    private readonly intervals: MonitorIntervals,
    private readonly onIdleStop: () => void,
    private readonly bus: ChangeBus | null,
    private readonly heldOut: HeldOut | null,
  ) {
    this.snap = { lb, at: null, instances: [], traffic: null, lastError: null, consecutiveErrors: 0, intervalMs: intervals.fastMs, refreshes: 0 };
  }

  private nextDelay(): number {
    const i = this.intervals;
    if (this.snap.consecutiveErrors > 0) {
      return backoffDelay(Math.min(this.snap.consecutiveErrors, 9), { baseMs: i.activeMs, maxMs: i.maxBackoffMs });
    }
    if ([...this.listeners.values()].some((l) => l.fast)) return i.fastMs;
    if (this.active || this.listeners.size > 0) return i.activeMs;
    return i.idleMs;
  }

  private schedule(delay = this.nextDelay()) {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.snap.intervalMs = delay;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.active && this.listeners.size === 0 && Date.now() - this.lastReadAt > this.intervals.idleStopMs) {
        this.stop();
        this.onIdleStop();
        return;
      }
      void this.refresh();
    }, delay);
    this.timer.unref?.();
  }

  /** Refreshes now, or joins the refresh in progress. */
  refresh(): Promise<FleetSnapshot> {
    if (this.inflight) return this.inflight;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.inflight = this.poll().finally(() => {
      this.inflight = null;
      this.schedule();
    });
    return this.inflight;
  }

  /** The instances active rollouts hold out of rotation here; a failed read leaves the listing as the provider gave it. */
  private held(): HeldInstance[] {
    if (!this.heldOut) return [];
    try {
      return this.heldOut(this.lb);
    } catch (err) {
      componentLog("monitor", { lb: this.lb }).error({ err }, "could not read the instances rollouts hold out of rotation");
      return [];
    }
  }

  private async poll(): Promise<FleetSnapshot> {
    const held = this.held();
    // Named to the provider too: one that stops listing deregistered instances can still ask about them.
    const include = held.length > 0 ? { include: held.map((h) => h.id) } : undefined;
    const [inst, traffic] = await Promise.allSettled([this.provider.describeInstances(this.lb, include), this.provider.trafficStats(this.lb)]);
    const now = Date.now();
    const prev = this.snap;
    const failure = inst.status === "rejected" ? inst.reason : traffic.status === "rejected" ? traffic.reason : null;
    const next: FleetSnapshot = {
      ...prev,
      at: inst.status === "fulfilled" ? now : prev.at,
      instances: inst.status === "fulfilled" ? mergeHeld(inst.value, held) : prev.instances,
      traffic: traffic.status === "fulfilled" ? traffic.value : prev.traffic,
      lastError: failure === null ? null : toMonitorError(failure, now),
      consecutiveErrors: inst.status === "rejected" ? prev.consecutiveErrors + 1 : 0,
      refreshes: prev.refreshes + 1,
    };
    if (failure !== null && prev.lastError?.message !== next.lastError?.message) {
      componentLog("monitor", { lb: this.lb }).warn({ err: next.lastError }, "fleet refresh failed");
    }
    this.snap = next;
    for (const [l] of [...this.listeners]) {
      try {
        l(next);
      } catch (err) {
        componentLog("monitor", { lb: this.lb }).error({ err }, "snapshot listener threw");
      }
    }
    const fp = fingerprint(next);
    if (fp !== this.lastFingerprint) {
      this.lastFingerprint = fp;
      this.bus?.emit({ lb: this.lb, kind: "fleet" });
    }
    return next;
  }

  start() {
    if (!this.inflight && !this.timer && !this.stopped) void this.refresh();
  }

  /** A new fast listener should not wait out an idle delay. */
  hurry() {
    if (this.inflight || this.stopped) return;
    if (this.timer && this.snap.intervalMs > this.nextDelay()) void this.refresh();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

export class FleetMonitor {
  private readonly loops = new Map<string, LbLoop>();
  private lbCache: { at: number; value: Promise<LoadBalancerSummary[]> } | null = null;
  readonly intervals: MonitorIntervals;

  constructor(
    readonly provider: LoadBalancerProvider,
    intervals: Partial<MonitorIntervals> = {},
    /** Told when a refresh saw something new (kind "fleet"). */
    private readonly bus: ChangeBus | null = null,
    /** The instances active rollouts hold out of rotation, per load balancer (from the store). */
    private readonly heldOut: HeldOut | null = null,
  ) {
    this.intervals = { ...defaultIntervals(provider), ...intervals };
  }

  private loop(lb: string): LbLoop {
    let l = this.loops.get(lb);
    if (!l) {
      const created: LbLoop = new LbLoop(
        lb,
        this.provider,
        this.intervals,
        () => {
          if (this.loops.get(lb) === created) this.loops.delete(lb);
        },
        this.bus,
        this.heldOut,
      );
      l = created;
      this.loops.set(lb, l);
      l.start();
    }
    return l;
  }

  /** The latest snapshot (starting the loop if needed: the first read may have no instances yet, `at: null`). */
  snapshot(lb: string): FleetSnapshot {
    const l = this.loop(lb);
    l.lastReadAt = Date.now();
    return l.snap;
  }

  /** A snapshot at least as fresh as `maxAgeMs` (refreshing if needed); 0: always a new read. */
  async freshSnapshot(lb: string, maxAgeMs = 0): Promise<FleetSnapshot> {
    const l = this.loop(lb);
    l.lastReadAt = Date.now();
    // Strictly younger: a snapshot taken earlier in this same millisecond is not a read begun now.
    if (l.snap.at !== null && Date.now() - l.snap.at < maxAgeMs) return l.snap;
    return l.refresh();
  }

  /** Every refresh of `lb` is passed to `listener`. `fast`: a wait is in progress, poll at the fast cadence. */
  subscribe(lb: string, listener: SnapshotListener, options: { fast?: boolean } = {}): () => void {
    const l = this.loop(lb);
    l.listeners.set(listener, { fast: !!options.fast });
    l.lastReadAt = Date.now();
    l.hurry();
    return () => {
      l.listeners.delete(listener);
      l.lastReadAt = Date.now();
    };
  }

  /** Marks a load balancer as having an active rollout (polled at the active cadence even with no viewer). */
  setActive(lb: string, active: boolean): void {
    const l = this.loop(lb);
    l.active = active;
    l.lastReadAt = Date.now();
    if (active) l.hurry();
  }

  /**
   * Resolves with the first snapshot for which `predicate` holds (checked on every refresh, at the
   * fast cadence), or rejects with a WaitTimeoutError after `timeoutMs` / an AbortError on `signal`.
   */
  waitFor(lb: string, predicate: (s: FleetSnapshot) => boolean, options: { timeoutMs: number; signal?: AbortSignal; onSnapshot?: SnapshotListener }): Promise<FleetSnapshot> {
    return new Promise((resolve, reject) => {
      let unsubscribe = () => {};
      const done = (fn: () => void) => {
        clearTimeout(timer);
        unsubscribe();
        options.signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => done(() => reject(options.signal?.reason ?? new Error("wait aborted")));
      const timer = setTimeout(() => done(() => reject(new WaitTimeoutError(lb, options.timeoutMs, this.loop(lb).snap))), options.timeoutMs);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const check = (s: FleetSnapshot) => {
        options.onSnapshot?.(s);
        if (s.at !== null && s.consecutiveErrors === 0 && predicate(s)) done(() => resolve(s));
      };
      unsubscribe = this.subscribe(lb, check, { fast: true });
      // Decide on a fresh read, never on a snapshot taken before the wait began.
      void this.loop(lb).refresh();
    });
  }

  /** The provider's load balancers, cached for 10 s (a failed read is not cached). */
  listLoadBalancers(maxAgeMs = 10_000): Promise<LoadBalancerSummary[]> {
    const now = Date.now();
    if (this.lbCache && now - this.lbCache.at <= maxAgeMs) return this.lbCache.value;
    const value = this.provider.listLoadBalancers();
    this.lbCache = { at: now, value };
    value.catch(() => {
      if (this.lbCache?.value === value) this.lbCache = null;
    });
    return value;
  }

  /** Load balancers being polled now, for diagnostics. */
  polling(): string[] {
    return [...this.loops.keys()];
  }

  stop(): void {
    for (const l of this.loops.values()) l.stop();
    this.loops.clear();
  }
}

export class WaitTimeoutError extends Error {
  constructor(
    readonly lb: string,
    readonly timeoutMs: number,
    readonly last: FleetSnapshot,
  ) {
    super(`still waiting after ${timeoutMs} ms on load balancer ${lb}`);
    this.name = "WaitTimeoutError";
  }
}
