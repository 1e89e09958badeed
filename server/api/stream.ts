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
import { onRevocation } from "@/server/auth/revocations";

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
  /** Per rollout, the changes of the coalescing window: `at` is the first one's time (the message covers every change since). */
  private readonly pending = new Map<string, { lb?: string; at: number; timer: NodeJS.Timeout }>();
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
      const at = Date.now();
      const timer = setTimeout(() => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        this.send({ kind: "rollout", id, ...(p?.lb ? { lb: p.lb } : {}), at });
      }, COALESCE_MS);
      this.pending.set(id, { lb: c.lb, at, timer });
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
      for (const { name, problem } of lbs) {
        // One the provider cannot show has nothing to watch (polling it would only fail).
        if (problem || this.lbSubs.has(name)) continue;
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
    // The monitor's latest snapshot changed now: a read that began before this did not see it.
    const at = Date.now();
    if (prev.inst !== next.inst) this.send({ kind: "instances", lb, at });
    if (prev.traffic !== next.traffic) this.send({ kind: "traffic", lb, at });
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

/** Adds a browser to the runtime's hub (one per runtime); returns its unsubscribe. */
export function subscribeStream(client: Client): () => void {
  const parts = runtime().parts;
  let hub = parts.get("stream-hub") as Hub | undefined;
  if (!hub) parts.set("stream-hub", (hub = new Hub()));
  return hub.add(client);
}

/**
 * One open `/api/stream` per entry: whose credential it rides on, and how to close it. A stream
 * outlives the request that opened it, so its credential is checked again every `recheckMs`, and at
 * once whenever any credential is revoked (sign-out, operator disabled, token revoked): a revoked
 * session's streams end instead of delivering for hours.
 */
interface OpenStream {
  credential: string;
  recheck(): void;
}

const open = new Set<OpenStream>();
let stopRevocations: (() => void) | null = null;

export interface StreamLimits {
  /** How often an open stream's credential is checked again (at most 30 s). */
  recheckMs: number;
  perCredential: number;
  total: number;
}

export function streamLimits(env: Readonly<Record<string, string | undefined>> = process.env): StreamLimits {
  const num = (v: string | undefined, dflt: number, min: number, max: number) => {
    const n = Number(v);
    return v !== undefined && v !== "" && Number.isInteger(n) && n >= min && n <= max ? n : dflt;
  };
  return {
    recheckMs: num(env.ROTOR_STREAM_RECHECK_MS, 30_000, 10, 30_000),
    perCredential: 10,
    total: num(env.ROTOR_STREAM_MAX, 200, 1, 100_000),
  };
}

/** Open streams now (tests, the benchmark). */
export function openStreamCount(): number {
  return open.size;
}

const HEARTBEAT_MS = 15_000;

/**
 * GET /api/stream: server-sent events naming what changed; the browser refetches those queries.
 * `authorize` is asked at open and at every re-check; `credential` names the session or token
 * the stream rides on (a digest, never the secret), for the per-session cap.
 */
export function openStream(
  req: Request,
  auth: { authorize: () => { ok: true } | { ok: false; code: "UNAUTHENTICATED" | "FORBIDDEN"; message: string }; credential: string; refuse: (r: { code: "UNAUTHENTICATED" | "FORBIDDEN"; message: string }) => Response },
  limits: StreamLimits = streamLimits(),
): Response {
  const first = auth.authorize();
  if (!first.ok) return auth.refuse(first);
  const mine = [...open].filter((s) => s.credential === auth.credential).length;
  if (mine >= limits.perCredential || open.size >= limits.total) {
    const message =
      mine >= limits.perCredential
        ? `This session already has ${mine} live-update streams open (at most ${limits.perCredential}); close some tabs.`
        : `The dashboard is serving its maximum of ${limits.total} live-update streams; try again shortly.`;
    return Response.json({ ok: false, code: "TOO_MANY_STREAMS", message }, { status: 429, headers: { "cache-control": "no-store", "retry-after": "30" } });
  }
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (chunk: string) => {
        try {
          controller.enqueue(encoder.encode(chunk));
        } catch {
          cleanup();
        }
      };
      const send = (msg: StreamMessage) => write(`data: ${JSON.stringify(msg)}\n\n`);
      write("retry: 1000\n\n");
      const unsubscribe = subscribeStream(send);
      // After subscribing: every change from here on is announced, so a refetch on hello misses none.
      send({ kind: "hello" });
      const heartbeat = setInterval(() => write(": keep-alive\n\n"), HEARTBEAT_MS);
      const entry: OpenStream = {
        credential: auth.credential,
        recheck() {
          let still = false;
          try {
            still = auth.authorize().ok;
          } catch (err) {
            componentLog("stream").warn({ err }, "could not re-check a live stream's session; closing it");
          }
          if (!still) cleanup();
        },
      };
      const recheck = setInterval(() => entry.recheck(), limits.recheckMs);
      recheck.unref?.();
      open.add(entry);
      stopRevocations ??= onRevocation(() => {
        for (const s of [...open]) s.recheck();
      });
      cleanup = () => {
        clearInterval(heartbeat);
        clearInterval(recheck);
        unsubscribe();
        open.delete(entry);
        if (open.size === 0) {
          stopRevocations?.();
          stopRevocations = null;
        }
        cleanup = () => {};
        try {
          controller.close();
        } catch {
          // already closed
        }
      };
      req.signal.addEventListener("abort", () => cleanup(), { once: true });
    },
    cancel() {
      cleanup();
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    },
  });
}
