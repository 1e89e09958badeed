/**
 * The local balancer against direct-to-backend, side by side in one run (issue 3):
 * - `lb_throughput_ratio`: saturation throughput through the balancer ÷ direct, 32 keep-alive
 *   connections, closed loop, 3 s each; direct and balancer alternate, median of 3 rounds.
 * - `lb_added_p99_ms`: at a fixed 1,000 req/s (open loop: latency counted from the scheduled send
 *   time, so queueing is not hidden), p99 through the balancer minus p99 direct; median of 3 rounds.
 * The backend is the fleet's own instance process; the balancer is the fleet's own balancer process.
 * The load client is a minimal raw-socket HTTP/1.1 client in this process, cheap enough that it
 * leaves the CPU to the servers being measured.
 */
import net from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { freePort } from "@/server/testing/ports";
import { spawnTs } from "@/server/fleet/hooks";
import { ensureRelease } from "@/server/fleet/releases";
import { ipcClient } from "@/server/fleet/ipc";

const CONNECTIONS = 32;
const SATURATION_MS = 3_000;
const FIXED_RPS = 1_000;
const FIXED_MS = 3_000;
const ROUNDS = 3;
const WARMUP_MS = 700;

function log(line: string) {
  process.stderr.write(`lb.bench: ${line}\n`);
}

/** One keep-alive connection: sends `GET /` and calls back when the full response has arrived. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private socket: net.Socket;
  busy = false;
  private onDone: (() => void) | null = null;
  errors = 0;

  private constructor(socket: net.Socket, private readonly request: Buffer) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", () => this.errors++);
  }

  static open(port: number, request: Buffer): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(new Conn(s, request)));
      s.once("error", reject);
    });
  }

  send(onDone: () => void) {
    this.busy = true;
    this.onDone = onDone;
    this.socket.write(this.request);
  }

  private onData(d: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString("latin1");
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const total = end + 4 + (m ? Number(m[1]) : 0);
      if (this.buf.length < total) return;
      if (!head.startsWith("HTTP/1.1 200")) this.errors++;
      this.buf = this.buf.subarray(total);
      this.busy = false;
      const cb = this.onDone;
      this.onDone = null;
      cb?.();
    }
  }

  close() {
    this.socket.destroy();
  }
}

async function openAll(port: number): Promise<Conn[]> {
  const req = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: rotor-bench\r\n\r\n`);
  return Promise.all(Array.from({ length: CONNECTIONS }, () => Conn.open(port, req)));
}

/** Closed loop: every connection sends its next request as soon as the last one is answered. */
async function saturate(port: number, ms: number): Promise<{ rps: number; errors: number; total: number }> {
  const conns = await openAll(port);
  let count = 0;
  let total = 0;
  let counting = false;
  let running = true;
  const loop = (c: Conn) => {
    if (!running) return;
    c.send(() => {
      total++;
      if (counting) count++;
      loop(c);
    });
  };
  conns.forEach(loop);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  counting = false;
  const elapsed = performance.now() - t0;
  running = false;
  await new Promise((r) => setTimeout(r, 50));
  const errors = conns.reduce((n, c) => n + c.errors, 0);
  conns.forEach((c) => c.close());
  return { rps: (count / elapsed) * 1000, errors, total };
}

/** Open loop at a fixed rate; latency from the scheduled send time. Answers latencies in ms. */
async function fixedRate(port: number, rps: number, ms: number): Promise<{ latencies: number[]; errors: number }> {
  const conns = await openAll(port);
  const idle = [...conns];
  const queue: number[] = [];
  const latencies: number[] = [];
  const start = performance.now() + WARMUP_MS;
  const stopAt = start + ms;
  let scheduled = 0;
  const t0 = performance.now();
  const dispatch = () => {
    while (queue.length && idle.length) {
      const at = queue.shift()!;
      const c = idle.pop()!;
      c.send(() => {
        if (at >= start) latencies.push(performance.now() - at);
        idle.push(c);
        dispatch();
      });
    }
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (now >= stopAt) {
        clearInterval(timer);
        return resolve();
      }
      const due = Math.floor(((now - t0) / 1000) * rps);
      for (; scheduled < due; scheduled++) queue.push(t0 + (scheduled / rps) * 1000);
      dispatch();
    }, 1);
  });
  await new Promise((r) => setTimeout(r, 200));
  const errors = conns.reduce((n, c) => n + c.errors, 0);
  conns.forEach((c) => c.close());
  return { latencies, errors };
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); null elsewhere. */
function cpuMs(pid: number | undefined): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function waitMessage(child: ChildProcess, type: string, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} from child within ${ms} ms`)), ms);
    child.on("message", (m: { type?: string }) => {
      if (m.type === type) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`child exited (${code})`)));
  });
}

export async function run(): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rotor-bench-lb-"));
  const children: ChildProcess[] = [];
  try {
    const { dir: release } = await ensureRelease(path.join(dir, "fleet"), "1.0.0");
    const backendPort = await freePort();
    const lbPort = await freePort();
    const backend = spawnTs(path.resolve(__dirname, "../fleet/instance.ts"), { ...process.env, ROTOR_INSTANCE_ID: "i-bench-1", ROTOR_INSTANCE_PORT: String(backendPort), ROTOR_RELEASE_DIR: release });
    children.push(backend);
    await waitMessage(backend, "listening");
    const lb = spawnTs(path.resolve(__dirname, "../fleet/balancer-main.ts"), {
      ...process.env,
      ROTOR_LB_PORT: String(lbPort),
      ROTOR_HEALTH_CHECK: JSON.stringify({ intervalMs: 1_000, timeoutMs: 800, healthyThreshold: 1, unhealthyThreshold: 2 }),
    });
    children.push(lb);
    await waitMessage(lb, "listening");
    const call = ipcClient(lb, "balancer");
    await call("upsert", [{ id: "i-bench-1", zone: "local-a", port: backendPort }]);
    await call("register", ["i-bench-1"]);
    for (let i = 0; i < 100; i++) {
      const d = await call<{ backends: { state: string }[] }>("describe");
      if (d.backends[0]?.state === "in-service") break;
      await new Promise((r) => setTimeout(r, 50));
    }

    // Direct and balancer alternate, so both see the same background load; each figure is the median
    // over rounds of the per-round comparison (this machine is shared, and noisy).
    const ratios: number[] = [];
    let lbCpu = 0;
    let lbRequests = 0;
    let backendCpu = 0;
    let backendRequests = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const b0 = cpuMs(backend.pid);
      const d = await saturate(backendPort, SATURATION_MS);
      const b1 = cpuMs(backend.pid);
      const l0 = cpuMs(lb.pid);
      const l = await saturate(lbPort, SATURATION_MS);
      const l1 = cpuMs(lb.pid);
      if (b0 !== null && b1 !== null && l0 !== null && l1 !== null) {
        backendCpu += b1 - b0;
        backendRequests += d.total;
        lbCpu += l1 - l0;
        lbRequests += l.total;
      }
      if (d.errors || l.errors) throw new Error(`saturation run saw errors (direct ${d.errors}, balancer ${l.errors})`);
      ratios.push(l.rps / d.rps);
      log(`saturation round ${round}: direct ${d.rps.toFixed(0)} req/s, balancer ${l.rps.toFixed(0)} req/s → ${(l.rps / d.rps).toFixed(3)} (${CONNECTIONS} keep-alive connections, ${SATURATION_MS / 1000} s each)`);
    }
    const added: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const fd = await fixedRate(backendPort, FIXED_RPS, FIXED_MS);
      const fl = await fixedRate(lbPort, FIXED_RPS, FIXED_MS);
      if (fd.errors || fl.errors) throw new Error(`fixed-rate run saw errors (direct ${fd.errors}, balancer ${fl.errors})`);
      const p = (xs: number[], q: number) => percentile(xs, q).toFixed(2);
      added.push(percentile(fl.latencies, 99) - percentile(fd.latencies, 99));
      log(`fixed ${FIXED_RPS} req/s round ${round}: direct p50 ${p(fd.latencies, 50)} p99 ${p(fd.latencies, 99)} ms; balancer p50 ${p(fl.latencies, 50)} p99 ${p(fl.latencies, 99)} ms (${fl.latencies.length} samples each)`);
    }
    const figures: Record<string, number> = {};
    if (lbRequests > 0 && backendRequests > 0) {
      figures.lb_cpu_us_per_req = Math.round((lbCpu / lbRequests) * 1000 * 10) / 10;
      figures.backend_cpu_us_per_req = Math.round((backendCpu / backendRequests) * 1000 * 10) / 10;
      log(`CPU per request: balancer ${figures.lb_cpu_us_per_req} µs, backend ${figures.backend_cpu_us_per_req} µs (the balancer parses and writes each request and response twice)`);
    }
    log(`load average now ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} on ${os.cpus().length} cores`);
    return { lb_throughput_ratio: Math.round(median(ratios) * 1000) / 1000, lb_added_p99_ms: Math.round(median(added) * 100) / 100, ...figures };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
