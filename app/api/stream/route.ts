import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import type { StreamMessage } from "@/lib/views";
import { subscribeStream } from "@/server/api/stream";

export const dynamic = "force-dynamic";

const HEARTBEAT_MS = 15_000;

/** GET /api/stream: server-sent events naming what changed; the browser refetches those queries. */
export function GET(req: Request) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
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
      send({ kind: "hello" });
      const unsubscribe = subscribeStream(send);
      const heartbeat = setInterval(() => write(": keep-alive\n\n"), HEARTBEAT_MS);
      cleanup = () => {
        clearInterval(heartbeat);
        unsubscribe();
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
