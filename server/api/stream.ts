/**
 * The live-update hub behind `/api/stream`: one set of subscriptions per process, fanned out to
 * every connected browser as small "this changed" messages that tell it which queries to refetch.
 *
 * - Rollout changes come from the engine's bus (every appended event), coalesced per rollout over
 *   COALESCE_MS so a burst of engine events costs each viewer one refetch.
 * - Fleet changes come from the shared monitor (one poll per load balancer); while any browser is
 *   connected, every load balancer is watched at the monitor's active cadence. Instances and traffic
 *   are fingerprinted apart, so a ticking traffic counter does not refetch a 1,000-row table.
 */
import type { StreamMessage } from "@/lib/views";
import type { FleetSnapshot } from "@/server/monitor";
import { runtime } from "@/server/runtime";
import { componentLog } from "@/server/log";

type Client = (msg: StreamMessage) => void;

const COALESCE_MS = 60;
const LB_REFRESH_MS = 30_000;

function instancesPrint(s: FleetSnapshot): string {
  return s.instances.map((i) => `${i.id}|${i.state}|${i.description}|${i.version}|${i.inFlight}|${i.healthCheck?.ok}|${i.healthCheck?.detail}`).join(";") + `#${s.lastError?.message ?? ""}`;
}

function trafficPrint(s: FleetSnapshot): string {
  return s.traffic ? `${s.traffic.requests}|${s.traffic.failed}` : "";
}

class Hub {
  private readonly clients = new Set<Client>();
  private stopBus: (() => void) | null = null;
  private readonly lbSubs = new Map<string, () => void>();
  private readonly prints = new Map<string, { inst: string; traffic: string }>();
  private readonly pending = new Map<string, { lb?: string; timer: NodeJS.Timeout }>();
  private lbTimer: NodeJS.Timeout | null = null;

  add(client: Client): () => void {
    this.clients.add(client);
    if (this.clients.size === 1) this.start();
    return () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.stop();
    };
  }

  private send(msg: StreamMessage) {
    for (const c of [...this.clients]) c(msg);
  }

  private start() {
    this.stopBus = runtime().bus.on((c) => {
      if (c.kind === "fleet" || !c.rolloutId) return; // fleet changes arrive through our own monitor subscriptions
      const id = c.rolloutId;
      const waiting = this.pending.get(id);
      if (waiting) {
        waiting.lb ??= c.lb;
        return;
      }
      const timer = setTimeout(() => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        this.send({ kind: "rollout", id, ...(p?.lb ? { lb: p.lb } : {}) });
      }, COALESCE_MS);
      this.pending.set(id, { lb: c.lb, timer });
    });
    void this.watchLoadBalancers();
    this.lbTimer = setInterval(() => void this.watchLoadBalancers(), LB_REFRESH_MS);
    this.lbTimer.unref?.();
  }

  private async watchLoadBalancers() {
    try {
      const monitor = runtime().monitor;
      const lbs = await monitor.listLoadBalancers();
      if (this.clients.size === 0) return;
      for (const { name } of lbs) {
        if (this.lbSubs.has(name)) continue;
        this.lbSubs.set(name, monitor.subscribe(name, (s) => this.onSnapshot(name, s)));
      }
    } catch (err) {
      componentLog("stream").warn({ err }, "could not list load balancers for live updates");
    }
  }

  private onSnapshot(lb: string, s: FleetSnapshot) {
    const prev = this.prints.get(lb);
    const next = { inst: instancesPrint(s), traffic: trafficPrint(s) };
    this.prints.set(lb, next);
    if (!prev) return;
    if (prev.inst !== next.inst) this.send({ kind: "instances", lb });
    if (prev.traffic !== next.traffic) this.send({ kind: "traffic", lb });
  }

  private stop() {
    this.stopBus?.();
    this.stopBus = null;
    for (const unsub of this.lbSubs.values()) unsub();
    this.lbSubs.clear();
    this.prints.clear();
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    if (this.lbTimer) clearInterval(this.lbTimer);
    this.lbTimer = null;
  }
}

const g = globalThis as unknown as { __rotorStreamHub?: Hub };

/** Adds a browser to the hub; returns its unsubscribe. */
export function subscribeStream(client: Client): () => void {
  g.__rotorStreamHub ??= new Hub();
  return g.__rotorStreamHub.add(client);
}
