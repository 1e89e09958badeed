/**
 * One web server instance of the local fleet: its own process, started by the supervisor's `start` hook.
 * Serves the release in ROTOR_RELEASE_DIR: `/` (a page with the version), `/health`, `/version`,
 * `/slow?ms=N` (N ≤ ROTOR_SLOW_MAX_MS, default 10 s) so in-flight requests are visible,
 * `/stream?chunks=N&intervalMs=M` (a body sent over time) and `POST /echo` (the request body streamed back).
 *
 * Graceful stop (SIGTERM/SIGINT, or the supervisor disappearing): stop accepting, close idle keep-alive
 * sockets, answer in-flight requests with `Connection: close`, exit once none is left. The supervisor
 * sends SIGKILL if that takes longer than the stop timeout.
 */
import http from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { AppFaults } from "./protocol";

const id = process.env.ROTOR_INSTANCE_ID ?? "i-local-?";
const port = Number(process.env.ROTOR_INSTANCE_PORT ?? 0);
const zone = process.env.ROTOR_INSTANCE_ZONE ?? "local-a";
const releaseDir = process.env.ROTOR_RELEASE_DIR ?? "";
const slowMaxMs = Number(process.env.ROTOR_SLOW_MAX_MS ?? 10_000);
/** Must exceed the balancer's idle-socket timeout (4 s), or the balancer reuses sockets we are closing. */
const keepAliveTimeoutMs = Number(process.env.ROTOR_KEEPALIVE_TIMEOUT_MS ?? 10_000);

function log(line: string) {
  process.stdout.write(`${new Date().toISOString()} [${id}] ${line}\n`);
}

function fail(message: string): never {
  process.stderr.write(`${new Date().toISOString()} [${id}] fatal: ${message}\n`);
  process.exit(1);
}

if (process.env.ROTOR_FAIL_START === "1") fail("application crashed during start-up (injected fault: start-fails)");

let version: string;
let page: string;
try {
  const release = JSON.parse(readFileSync(path.join(releaseDir, "release.json"), "utf8")) as { version?: unknown };
  if (typeof release.version !== "string") throw new Error("release.json has no version");
  version = release.version;
  page = readFileSync(path.join(releaseDir, "index.html"), "utf8");
} catch (err) {
  fail(`cannot load the release in ${releaseDir || "(no ROTOR_RELEASE_DIR)"}: ${err instanceof Error ? err.message : String(err)}`);
}

let stopping = false;
/** Faults on our own answers (never /health), as the supervisor last said; `onVersion` limits one to a version. */
let faults: AppFaults = { backend500: null, slow: null };
const applies = (f: { onVersion?: string } | null): boolean => f !== null && (f.onVersion === undefined || f.onVersion === version);
let inFlight = 0;
const commonHeaders = { "x-rotor-version": version, "x-rotor-instance": id };

function send(res: http.ServerResponse, status: number, type: string, body: string) {
  const headers: Record<string, string> = { ...commonHeaders, "content-type": type, "content-length": String(Buffer.byteLength(body)) };
  // Once stopping, tell keep-alive clients (the balancer) not to reuse this socket.
  if (stopping) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(body);
}

/** `/stream?chunks=N&intervalMs=M`: a body sent in N chunks, M ms apart (N ≤ 1000, total ≤ the /slow bound). */
function stream(res: http.ServerResponse, url: URL) {
  const chunks = Math.max(1, Math.min(1_000, Number(url.searchParams.get("chunks")) || 10));
  const intervalMs = Math.max(0, Math.min(Math.floor(slowMaxMs / chunks), Number(url.searchParams.get("intervalMs")) || 100));
  const headers: Record<string, string> = { ...commonHeaders, "content-type": "text/plain" };
  if (stopping) headers.connection = "close";
  res.writeHead(200, headers);
  let sent = 0;
  const timer = setInterval(() => {
    res.write(`chunk ${++sent} of ${chunks} from ${id} (${version})\n`);
    if (sent >= chunks) {
      clearInterval(timer);
      res.end();
    }
  }, intervalMs);
  res.on("close", () => clearInterval(timer));
}

const server = http.createServer((req, res) => {
  const slow = faults.slow;
  if (slow && applies(slow) && !req.url?.startsWith("/health")) {
    // Counted in flight from arrival: a stop waits for a delayed answer too.
    inFlight++;
    let waiting = true;
    const timer = setTimeout(() => {
      waiting = false;
      inFlight--;
      handle(req, res);
    }, slow.delayMs);
    res.on("close", () => {
      if (!waiting) return;
      // The client gave up during the delay.
      waiting = false;
      clearTimeout(timer);
      inFlight--;
      if (stopping) maybeExit();
    });
    return;
  }
  handle(req, res);
});

function handle(req: http.IncomingMessage, res: http.ServerResponse) {
  inFlight++;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    inFlight--;
    if (stopping) maybeExit();
  };
  res.on("finish", finish);
  res.on("close", finish);
  const url = new URL(req.url ?? "/", "http://instance");
  if (url.pathname === "/health") return send(res, 200, "application/json", JSON.stringify({ status: "ok", version, id }));
  const e500 = faults.backend500;
  if (e500 && applies(e500) && (e500.rate >= 1 || Math.random() < e500.rate)) return send(res, 500, "application/json", JSON.stringify({ error: "injected fault: backend-500", version, id }));
  if (url.pathname === "/version") return send(res, 200, "application/json", JSON.stringify({ version, id, zone }));
  if (url.pathname === "/slow") {
    const asked = Number(url.searchParams.get("ms") ?? 1000);
    const ms = Number.isFinite(asked) ? Math.max(0, Math.min(slowMaxMs, Math.floor(asked))) : 1000;
    const timer = setTimeout(() => send(res, 200, "application/json", JSON.stringify({ version, id, sleptMs: ms })), ms);
    res.on("close", () => clearTimeout(timer));
    return;
  }
  if (url.pathname === "/stream") return stream(res, url);
  if (url.pathname === "/echo" && req.method === "POST") {
    // Streams the request body back as it arrives (exercises streaming through the balancer both ways).
    const headers: Record<string, string> = { ...commonHeaders, "content-type": req.headers["content-type"] ?? "application/octet-stream" };
    if (stopping) headers.connection = "close";
    res.writeHead(200, headers);
    req.pipe(res);
    return;
  }
  if (url.pathname === "/") return send(res, 200, "text/html; charset=utf-8", page);
  return send(res, 404, "application/json", JSON.stringify({ error: "not found", version, id }));
}
server.keepAliveTimeout = keepAliveTimeoutMs;
server.headersTimeout = keepAliveTimeoutMs + 5_000;
server.requestTimeout = 0;

let closed = false;
function maybeExit() {
  if (stopping && closed && inFlight === 0) {
    log("stopped");
    process.exit(0);
  }
}

function stop(reason: string) {
  if (stopping) return;
  stopping = true;
  log(`stopping (${reason}): ${inFlight} request(s) in flight`);
  server.close(() => {
    closed = true;
    maybeExit();
  });
  server.closeIdleConnections();
  // server.close() waits for every socket; sockets that go idle after their last response are closed too.
  const reap = setInterval(() => server.closeIdleConnections(), 100);
  reap.unref();
  if (inFlight === 0) {
    // No request left: nothing to wait for, even if a client holds an idle socket open.
    closed = true;
    maybeExit();
  }
}

process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
process.on("message", (msg: unknown) => {
  const m = msg as { type?: string } & Partial<AppFaults>;
  if (m.type === "fault") faults = { backend500: m.backend500 ?? null, slow: m.slow ?? null };
  if (m.type === "stop") stop("supervisor");
});
// The supervisor is gone (crashed or killed): do not outlive it.
process.on("disconnect", () => {
  stop("supervisor disappeared");
  setTimeout(() => process.exit(0), 3_000).unref();
});

server.on("error", (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  const actual = typeof addr === "object" && addr ? addr.port : port;
  log(`listening on 127.0.0.1:${actual} (${zone}), serving ${version}`);
  process.send?.({ type: "listening", port: actual, version });
});
