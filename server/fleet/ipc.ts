/**
 * Request/response over a child process's IPC channel (supervisor ↔ balancer process).
 * Control traffic only; proxied requests never cross it.
 */
import type { ChildProcess } from "node:child_process";

interface Request {
  rpc: number;
  op: string;
  args: unknown;
}
interface Reply {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export type Handlers = Record<string, (args: never) => unknown>;

/** In the child: answer the parent's calls. */
export function serveIpc(handlers: Handlers): void {
  process.on("message", async (msg: unknown) => {
    const m = msg as Partial<Request>;
    if (typeof m.rpc !== "number" || typeof m.op !== "string") return;
    const handler = handlers[m.op] as ((args: unknown) => unknown) | undefined;
    let reply: Reply;
    try {
      if (!handler) throw new Error(`unknown operation ${m.op}`);
      reply = { rpc: m.rpc, ok: true, result: await handler(m.args) };
    } catch (err) {
      reply = { rpc: m.rpc, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (process.connected) process.send?.(reply);
  });
}

/** In the parent: call the child. */
export function ipcClient(child: ChildProcess, name: string) {
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  child.on("message", (msg: unknown) => {
    const r = msg as Partial<Reply>;
    if (typeof r.rpc !== "number") return;
    const p = pending.get(r.rpc);
    if (!p) return;
    pending.delete(r.rpc);
    clearTimeout(p.timer);
    if (r.ok) p.resolve(r.result);
    else p.reject(new Error(`${name}: ${r.error ?? "failed"}`));
  });
  child.on("exit", (code, signal) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${name} exited (${signal ?? code})`));
    }
    pending.clear();
  });
  return function call<T>(op: string, args?: unknown, timeoutMs = 5_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${name} is not running`));
      const rpc = ++seq;
      const timer = setTimeout(() => {
        pending.delete(rpc);
        reject(new Error(`${name}: ${op} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(rpc, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ rpc, op, args } satisfies Request);
    });
  };
}
