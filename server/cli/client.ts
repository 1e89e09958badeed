/**
 * The `rotor` command line's HTTP client: the dashboard's REST API with a bearer token, and its live
 * stream (`/api/stream`, server-sent events naming what changed) for watching and waiting.
 *
 * Every failure becomes a CliError: one sentence saying what to do, and the exit code for CI.
 */
import type { StreamMessage, RolloutDetailView } from "@/lib/views";
import { EXIT, exitForStatus, refusalSentence, type ExitCode } from "@/lib/cli/outcome";

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CliError";
  }
}

export interface ClientConfig {
  url: string;
  token: string;
}

/** ROTOR_URL (default the dashboard's local address) and ROTOR_TOKEN, checked before any request. */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>, urlFlag?: string): ClientConfig {
  const raw = urlFlag ?? env.ROTOR_URL ?? "http://127.0.0.1:3000";
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new CliError(`ROTOR_URL "${raw}" is not a URL; set it to the dashboard's address, e.g. http://127.0.0.1:3000.`, EXIT.REFUSED, "INVALID_INPUT", { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`ROTOR_URL "${raw}" is not an http(s) address; set it to the dashboard's address, e.g. https://rotor.example.com.`, EXIT.REFUSED, "INVALID_INPUT");
  }
  const token = env.ROTOR_TOKEN?.trim();
  if (!token) {
    throw new CliError("ROTOR_TOKEN is not set; create a token on the dashboard's Tokens page (/settings/tokens) and export ROTOR_TOKEN.", EXIT.REFUSED, "UNAUTHENTICATED");
  }
  return { url: url.toString().replace(/\/+$/, ""), token };
}

type ApiError = { code?: string; message?: string; fieldErrors?: Record<string, string> };

export class RotorClient {
  constructor(private readonly config: ClientConfig) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.config.token}`, accept: "application/json", ...extra };
  }

  /** A JSON request; `what` names it in the error sentence ("start a rollout"). */
  async request<T>(what: string, method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.config.url}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { "content-type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (cause) {
      const why = cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause);
      throw new CliError(refusalSentence(0, { message: why }, what), EXIT.UNAVAILABLE, "UNAVAILABLE", { cause });
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // A proxy's HTML error page, say: the status tells enough.
    }
    if (!res.ok) {
      const err = (parsed && typeof parsed === "object" ? parsed : {}) as ApiError;
      throw new CliError(refusalSentence(res.status, err, what), exitForStatus(res.status), err.code ?? `HTTP_${res.status}`);
    }
    return parsed as T;
  }

  rollout(id: string): Promise<RolloutDetailView> {
    return this.request(`read rollout ${id}`, "GET", `/api/rollouts/${encodeURIComponent(id)}`);
  }

  /**
   * Calls `onMessage` for each message of the live stream until `signal` aborts. Resolves when the
   * stream ends (the server restarted, the token was revoked); rejects with a CliError when it is refused.
   */
  async stream(onMessage: (msg: StreamMessage) => void, signal: AbortSignal): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.config.url}/api/stream`, { headers: this.headers({ accept: "text/event-stream" }), signal });
    } catch (cause) {
      if (signal.aborted) return;
      throw new CliError(refusalSentence(0, { message: cause instanceof Error ? cause.message : String(cause) }, "open the live stream"), EXIT.UNAVAILABLE, "UNAVAILABLE", { cause });
    }
    if (!res.ok || !res.body) {
      const err = ((await res.json().catch(() => null)) ?? {}) as ApiError;
      throw new CliError(refusalSentence(res.status, err, "open the live stream"), exitForStatus(res.status), err.code ?? `HTTP_${res.status}`);
    }
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          if (!data) continue;
          try {
            onMessage(JSON.parse(data) as StreamMessage);
          } catch {
            // Not a message of ours: ignore it rather than end the watch.
          }
        }
      }
    } catch (cause) {
      if (!signal.aborted) throw new CliError("The live stream broke off; run the command again.", EXIT.UNAVAILABLE, "UNAVAILABLE", { cause });
    }
  }
}

/**
 * Follows one rollout: reads it now, then again whenever the stream says it changed (and every
 * `pollMs` as a safety net: a stream that drops messages or cannot open still ends the watch),
 * until `onDetail` returns true or `signal` aborts. A stream refused for too many open streams
 * falls back to polling; a refused token ends the watch with its CliError.
 */
export async function follow(
  client: RotorClient,
  id: string,
  onDetail: (d: RolloutDetailView) => boolean,
  signal: AbortSignal,
  pollMs = 5_000,
): Promise<void> {
  const done = new AbortController();
  const stop = () => done.abort();
  signal.addEventListener("abort", stop, { once: true });
  let reading: Promise<void> = Promise.resolve();
  let again = false;
  let failure: unknown = null;
  const read = () => {
    // One read at a time; a change during a read earns one more read after it.
    if (done.signal.aborted) return;
    again = true;
    reading = reading.then(async () => {
      if (!again || done.signal.aborted) return;
      again = false;
      try {
        if (onDetail(await client.rollout(id))) stop();
      } catch (err) {
        failure = err;
        stop();
      }
    });
  };
  const timer = setInterval(read, pollMs);
  try {
    read();
    const streaming = (async () => {
      while (!done.signal.aborted) {
        try {
          await client.stream((msg) => {
            // A reconnect may have missed changes: read once on each hello.
            if (msg.kind === "hello" || (msg.kind === "rollout" && msg.id === id)) read();
          }, done.signal);
        } catch (err) {
          if (err instanceof CliError && err.exitCode === EXIT.REFUSED && err.code !== "TOO_MANY_STREAMS") throw err;
          // Unavailable or too many streams: the poll carries on; try the stream again later.
        }
        await sleep(pollMs, done.signal);
      }
    })();
    await Promise.race([streaming, new Promise((r) => done.signal.addEventListener("abort", r, { once: true }))]);
    await reading;
  } catch (err) {
    failure ??= err;
  } finally {
    clearInterval(timer);
    signal.removeEventListener("abort", stop);
    done.abort();
  }
  if (failure) throw failure;
}

/** Resolves after `ms`, or at once when `signal` aborts (no timer left behind to hold the process). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
