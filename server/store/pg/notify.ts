/**
 * Fan-out of appended events to every replica: each insert into `events` notifies the
 * `rotor_events` channel with `{"rolloutId", "seq"}` at commit (migration 201's trigger, so every
 * writer does it). A subscriber holds one dedicated connection that LISTENs, and reconnects with
 * backoff when it drops (PostgreSQL restarted, network cut).
 *
 * Notifications sent while a subscriber is disconnected are lost, by PostgreSQL's design: after each
 * reconnect `onConnected` runs, and the caller catches up from the log (events after the last seq it
 * saw). The notification is a wake-up call; the log stays the truth.
 */
import pg from "pg";
import { z } from "zod";
import { backoffDelay, type Backoff } from "@/server/backoff";
import { pgConfig } from "./pool";

export const EVENTS_CHANNEL = "rotor_events";

export interface AppendedNotice {
  rolloutId: string;
  seq: number;
}

const noticeSchema = z.object({ rolloutId: z.string().min(1), seq: z.number().int().positive() });

export interface EventSubscription {
  /** Resolves once the first LISTEN is in place (notices from appends committed after it arrive). */
  ready: Promise<void>;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  onNotice: (n: AppendedNotice) => void;
  /** After every (re)connect, once LISTEN is in place: catch up from the log here. */
  onConnected?: (info: { reconnect: boolean }) => void;
  /** A dropped connection, a failed attempt, or a payload that is not a notice; the subscription carries on. */
  onError?: (err: Error) => void;
  backoff?: Backoff;
}

const DEFAULT_BACKOFF: Backoff = { baseMs: 100, maxMs: 5_000 };

export function subscribeEvents(url: string, o: SubscribeOptions): EventSubscription {
  const backoff = o.backoff ?? DEFAULT_BACKOFF;
  let closed = false;
  let client: pg.Client | null = null;
  let retry: NodeJS.Timeout | null = null;
  let attempt = 0;
  let connectedOnce = false;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const report = (err: Error) => o.onError?.(err);

  const schedule = () => {
    if (closed || retry) return;
    attempt += 1;
    retry = setTimeout(() => {
      retry = null;
      void connect();
    }, backoffDelay(attempt, backoff));
  };

  const connect = async () => {
    const c = new pg.Client(pgConfig(url));
    client = c;
    let dropped = false;
    const drop = (err: Error) => {
      if (dropped) return;
      dropped = true;
      if (client === c) client = null;
      void c.end().catch(() => undefined);
      if (!closed) {
        report(err);
        schedule();
      }
    };
    c.on("error", (err) => drop(new Error(`the ${EVENTS_CHANNEL} listener's connection failed`, { cause: err })));
    c.on("end", () => drop(new Error(`the ${EVENTS_CHANNEL} listener's connection ended`)));
    c.on("notification", (m) => {
      if (m.channel !== EVENTS_CHANNEL) return;
      try {
        o.onNotice(noticeSchema.parse(JSON.parse(m.payload ?? "")));
      } catch (cause) {
        report(new Error(`ignored a ${EVENTS_CHANNEL} notice that is not {rolloutId, seq}: ${m.payload}`, { cause }));
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (cause) {
      drop(new Error(`could not listen on ${EVENTS_CHANNEL} (attempt ${attempt + 1})`, { cause }));
      return;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    attempt = 0;
    const reconnect = connectedOnce;
    connectedOnce = true;
    markReady();
    o.onConnected?.({ reconnect });
  };

  void connect();
  return {
    ready,
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
