/**
 * How the local balancer forwards one request (balancer.ts decides to which backend, and when).
 * Raw header pairs both ways minus hop-by-hop headers — a draining backend's `Connection: close`
 * never reaches the client — bodies streamed with backpressure, and the retry rule below.
 */
import http from "node:http";
import type { Socket } from "node:net";
import { bucketIndex } from "@/lib/analysis";
import type { HealthState } from "./health";
import type { BackendCounters, DrainRecord, LbTotals } from "./protocol";

/**
 * The stale keep-alive race (the backend closed an idle socket as we reused it) fails within a round trip.
 * A reused socket that fails later means the backend died while working on the request: that is a 502,
 * not a retry, since it may have acted on it.
 */
const STALE_SOCKET_WINDOW_MS = 250;
const RETRYABLE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"]);

const HOP_BY_HOP_LENGTHS = new Set([...HOP_BY_HOP].map((h) => h.length));

/** Cheap length test first: most header names are not hop-by-hop, and lowercasing allocates. */
function isHopByHop(name: string): boolean {
  return HOP_BY_HOP_LENGTHS.has(name.length) && HOP_BY_HOP.has(name.toLowerCase());
}

const addresses = new WeakMap<object, string>();
/** The client's address, read once per connection (each read is a getpeername call). */
function clientAddress(socket: Socket): string {
  let a = addresses.get(socket);
  if (a === undefined) {
    a = socket.remoteAddress ?? "127.0.0.1";
    addresses.set(socket, a);
  }
  return a;
}

/** One proxied (or held) request in flight to a backend. */
export interface Flight {
  res: http.ServerResponse | null;
  up: http.ClientRequest;
  done: boolean;
  sentAt: number;
  /** Response headers received (a streaming body has no timeout). */
  responded: boolean;
}

/** A backend as the balancer is told about it (the rest of `Backend` is the balancer's own state). */
export interface BackendSpec {
  id: string;
  zone: string;
  port: number;
  host?: string;
  /**
   * Most connections the balancer keeps open to this backend (default 256); more requests wait in the
   * balancer. For a server that gives each connection a process (Apache prefork), below its worker
   * limit: past it, new connections — the health checker's included — queue in the listen backlog.
   */
  maxConnections?: number;
}

export interface Backend extends BackendSpec {
  host: string;
  agent: http.Agent;
  registered: boolean;
  draining: boolean;
  drainTimer: NodeJS.Timeout | null;
  health: HealthState;
  hcTimer: NodeJS.Timeout | null;
  hcRunning: boolean;
  healthFault: boolean;
  flights: Set<Flight>;
  counters: BackendCounters;
  /** Response-time histogram over lib/analysis.ts's LATENCY_BOUNDS_MS (sent → response headers), reset with the counters. */
  latency: number[];
  /** When `counters` and `latency` started counting (added, or last reset): a window that spans a restart is told apart. */
  countersSince: number;
  lastDrain: DrainRecord | null;
}

export interface ProxyContext {
  totals: LbTotals;
  readonly upstreamTimeoutMs: number;
  pick(exclude?: Backend): Backend | undefined;
  settleFlight(b: Backend, f: Flight): void;
}

export function lbError(res: http.ServerResponse, status: number, message: string) {
  if (res.headersSent || res.destroyed) return void res.destroy();
  const body = JSON.stringify({ error: message, producedBy: "rotor-lb" });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-rotor-lb-error": "1" });
  res.end(body);
}

export function proxyRequest(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  ctx.totals.requests++;
  const b = ctx.pick();
  if (!b) {
    ctx.totals.lb5xx++;
    ctx.totals.noBackend503++;
    req.resume();
    return lbError(res, 503, "no backend in service");
  }
  // Raw header pairs: duplicates survive, and Node skips re-validating each name.
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (isHopByHop(name)) continue;
    headers.push(name, raw[i + 1] as string);
  }
  headers.push("X-Forwarded-For", clientAddress(req.socket));
  const bodiless = req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined;
  if (req.headers["transfer-encoding"] !== undefined) headers.push("Transfer-Encoding", "chunked");
  forward(ctx, req, res, b, headers, bodiless, 0);
}

function forward(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse, b: Backend, headers: string[], bodiless: boolean, attempt: number): void {
  b.counters.requests++;
  // (Node's types say headers is an object; it takes raw [name, value, …] pairs too.)
  const up = http.request({ host: b.host, port: b.port, method: req.method, path: req.url, headers: headers as unknown as http.OutgoingHttpHeaders, agent: b.agent });
  const sentAt = Date.now();
  const started = performance.now();
  const f: Flight = { res, up, done: false, sentAt, responded: false };
  b.flights.add(f);

  // 'close' follows 'finish' on a completed response too: one listener settles both cases.
  const onClientClose = () => {
    if (f.done) return;
    if (!res.writableFinished) {
      b.counters.clientAborts++;
      ctx.totals.clientAborts++;
      up.destroy();
    }
    ctx.settleFlight(b, f);
  };
  res.once("close", onClientClose);

  up.on("response", (upRes) => {
    f.responded = true;
    // Time to the response headers, as ALB's TargetResponseTime: a streamed body does not count.
    b.latency[bucketIndex(performance.now() - started)]!++;
    const status = upRes.statusCode ?? 502;
    if (status >= 500) {
      b.counters.backend5xx++;
      ctx.totals.backend5xx++;
    }
    const out: string[] = [];
    const raw = upRes.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      // Keep transfer-encoding: with it, Node chunk-encodes the body for the client itself.
      if (isHopByHop(name) && name.toLowerCase() !== "transfer-encoding") continue;
      out.push(name, raw[i + 1] as string);
    }
    if (res.destroyed) return void upRes.resume();
    res.writeHead(status, upRes.statusMessage, out);
    // A hand-rolled pipe: fewer listeners per request than stream.pipe, same backpressure.
    upRes.on("data", (chunk: Buffer) => {
      if (!res.write(chunk)) {
        upRes.pause();
        res.once("drain", () => upRes.resume());
      }
    });
    upRes.on("end", () => res.end());
    upRes.on("error", () => undefined);
    // The backend died mid-body: the status is already sent, so all we can do is cut the client response.
    upRes.on("close", () => {
      if (!upRes.complete) res.destroy();
    });
  });
  up.on("error", (err: NodeJS.ErrnoException) => {
    if (f.done) return;
    b.counters.errors++;
    ctx.totals.errors++;
    if (f.responded) {
      // The backend died mid-body: the status is already sent, so all we can do is cut the client response.
      res.destroy();
      ctx.settleFlight(b, f);
      return;
    }
    res.off("close", onClientClose);
    ctx.settleFlight(b, f);
    if (res.destroyed) return;
    if (attempt === 0 && up.reusedSocket && bodiless && RETRYABLE_METHODS.has(req.method ?? "") && err.code !== "ETIMEDOUT" && Date.now() - sentAt < STALE_SOCKET_WINDOW_MS) {
      const other = ctx.pick(b) ?? b;
      other.counters.retries++;
      ctx.totals.retries++;
      return forward(ctx, req, res, other, headers, bodiless, 1);
    }
    b.counters.lb5xx++;
    ctx.totals.lb5xx++;
    if (err.code === "ETIMEDOUT") lbError(res, 504, `backend ${b.id} did not answer within ${ctx.upstreamTimeoutMs} ms`);
    else lbError(res, 502, `backend ${b.id} failed: ${err.code ?? err.message}`);
  });
  if (bodiless) up.end();
  else req.pipe(up);
}
