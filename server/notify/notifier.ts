/**
 * The notifier: turns appended rollout events into webhook deliveries and sends them, never in the
 * way of the engine or a server action (it runs off the bus and a timer; a slow or dead receiver
 * costs only its own deliveries).
 *
 *   events (log) ──derive, one write transaction, cursor advances──▶ notify_outbox (pending)
 *   notify_outbox ──claim head per target──▶ POST, signed ──2xx──▶ delivered
 *                                                         └─else─▶ retry with backoff … failed after giveUpAfterMs
 *
 * Durable: deriving and advancing the cursor happen in one transaction (whatever process does it, each
 * event is turned into notifications once), and the outbox keeps the exact body, so a restart resends
 * the same bytes under the same delivery id. A delivery whose sender died mid-request is sent again once
 * its claim lapses: receivers dedupe on X-Rotor-Delivery. Per target, deliveries go out in event order:
 * a later one waits while an earlier one is being retried.
 */
import { randomBytes } from "node:crypto";
import { createRollout, transition, type CreateRolloutInput } from "@/lib/rollout/machine";
import type { RolloutState } from "@/lib/rollout/state";
import type { RolloutEvent } from "@/lib/rollout/types";
import type { StoredEvent } from "@/lib/views";
import { deriveNotifications, jsonBody, rolloutLink, slackBody, type Notification } from "@/lib/notify";
import { backoffDelay, type Backoff } from "@/server/backoff";
import type { ChangeBus } from "@/server/bus";
import { componentLog } from "@/server/log";
import type { RotorStore } from "@/server/store";
import { deliveryHeaders } from "./sign";
import { liveTarget, targetsFor } from "./targets";

type Env = Readonly<Record<string, string | undefined>>;

export interface NotifierOptions {
  /** Retries: exponential from baseMs to maxMs, until giveUpAfterMs after the notification (default 1 s → 60 s, 10 min). */
  retry: Backoff & { giveUpAfterMs: number };
  /** How often to look for events other processes appended and for retries that are due. */
  pollMs: number;
  /** One attempt's limit. */
  timeoutMs: number;
  /** The rollout links' base: ROTOR_PUBLIC_URL, else the dashboard's own address (ROTOR_HOST:ROTOR_PORT). */
  publicUrl: string;
}

export const DEFAULT_NOTIFIER: Omit<NotifierOptions, "publicUrl"> = {
  retry: { baseMs: 1_000, maxMs: 60_000, giveUpAfterMs: 10 * 60_000 },
  pollMs: 2_000,
  timeoutMs: 10_000,
};

export function publicUrl(env: Env): string {
  if (env.ROTOR_PUBLIC_URL) return env.ROTOR_PUBLIC_URL;
  const host = env.ROTOR_HOST || "127.0.0.1";
  return `http://${host.includes(":") ? `[${host}]` : host}:${env.ROTOR_PORT || env.PORT || 3000}`;
}

interface Pending {
  id: string;
  target_id: string;
  body: string;
  attempts: number;
  created_at: number;
  next_at: number;
  claimed_until: number | null;
}

/** How long a sender holds a delivery: past one attempt's timeout, so two processes never send it at once. */
const CLAIM_MARGIN_MS = 30_000;
const log = componentLog("notify");

export class Notifier {
  private readonly states = new Map<string, { state: RolloutState; seq: number }>();
  private readonly opts: NotifierOptions;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly store: RotorStore,
    private readonly key: Buffer,
    private readonly bus: ChangeBus | null,
    opts: Partial<NotifierOptions> & { env?: Env } = {},
  ) {
    this.opts = { ...DEFAULT_NOTIFIER, publicUrl: publicUrl(opts.env ?? process.env), ...opts, retry: { ...DEFAULT_NOTIFIER.retry, ...opts.retry } };
  }

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.unsubscribe = this.bus?.on((c) => (c.kind === "event" ? this.kick() : undefined)) ?? null;
    this.timer = setInterval(() => this.kick(), this.opts.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Stops, letting a delivery in flight finish and be recorded (so a clean restart never resends it). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Runs a pass soon; coalesces: a kick while a pass runs makes one more pass after it. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
  }

  /** One pass: derive from new events, then send what is due. Never throws (the log says what failed). */
  async pass(now = Date.now): Promise<void> {
    try {
      this.derive(now());
    } catch (err) {
      log.error({ err }, "could not derive notifications from the event log");
    }
    try {
      await this.deliverDue(now);
    } catch (err) {
      log.error({ err }, "notification delivery pass failed");
    }
  }

  /** Turns events after the cursor into outbox rows and advances the cursor, in one transaction. */
  derive(now = Date.now()): number {
    const db = this.store.db;
    // Most passes find nothing new: ask without taking the write lock every engine and action queues on.
    const seen = db.prepare<[], { seq: number }>("SELECT seq FROM notify_cursor WHERE id = 1").get()?.seq ?? 0;
    if (seen >= this.store.lastSeq()) return 0;
    return this.store.write(() => {
      const cursor = db.prepare<[], { seq: number }>("SELECT seq FROM notify_cursor WHERE id = 1").get()?.seq ?? 0;
      const events = this.store.eventsSince(cursor, 500);
      const insert = db.prepare(
        `INSERT INTO notify_outbox (id, target_id, seq, kind, rollout_id, body, status, attempts, created_at, next_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING`,
      );
      let added = 0;
      for (const e of events) {
        for (const n of this.notificationsOf(e)) {
          for (const t of targetsFor(db, n.lb, n.kind)) {
            const id = `d-${randomBytes(8).toString("hex")}`;
            const link = rolloutLink(this.opts.publicUrl, n.rolloutId);
            const body = JSON.stringify(t.format === "slack" ? slackBody(n, link) : jsonBody(n, link, id));
            added += insert.run(id, t.id, n.seq, n.kind, n.rolloutId, body, now, now).changes;
          }
        }
      }
      if (events.length) db.prepare("UPDATE notify_cursor SET seq = ? WHERE id = 1").run(events[events.length - 1]!.seq);
      if (events.length === 500) this.again = true;
      return added;
    });
  }

  /** The rollout's state just before `e`, folded up from its creation (kept per rollout between passes). */
  private notificationsOf(e: StoredEvent): Notification[] {
    if (e.outcome !== "applied") return [];
    let held = this.states.get(e.rolloutId);
    if (!held) {
      const row = this.store.rollout(e.rolloutId);
      if (!row) return [];
      held = { state: createRollout(row.createInput as CreateRolloutInput), seq: 0 };
      this.states.set(e.rolloutId, held);
    }
    // Events of this rollout another process turned into notifications since: fold them in silently.
    for (const earlier of this.store.events(e.rolloutId, held.seq)) {
      if (earlier.seq >= e.seq) break;
      if (earlier.outcome === "applied") held.state = this.fold(held.state, earlier);
      held.seq = earlier.seq;
    }
    const before = held.state;
    const after = this.fold(before, e);
    held.state = after;
    held.seq = e.seq;
    if (after.phase === "succeeded" || after.phase === "aborted" || after.phase === "rolled-back") this.states.delete(e.rolloutId);
    return deriveNotifications(e, before, after);
  }

  private fold(state: RolloutState, e: StoredEvent): RolloutState {
    const r = transition(state, { ...e.payload, at: e.at, actor: e.actor } as RolloutEvent);
    if (!r.ok) throw new Error(`notifier: replay of rollout ${e.rolloutId} diverged at seq ${e.seq} (${e.type})`);
    return r.state;
  }

  private async deliverDue(now: () => number): Promise<void> {
    const targets = this.store.db
      .prepare<[], { target_id: string }>("SELECT DISTINCT o.target_id FROM notify_outbox o JOIN notify_targets t ON t.id = o.target_id WHERE o.status = 'pending' AND t.enabled = 1")
      .all();
    await Promise.all(targets.map((t) => this.deliverTarget(t.target_id, now)));
  }

  /** Sends a target's pending deliveries in order, stopping at one that must wait for its retry. */
  private async deliverTarget(targetId: string, now: () => number): Promise<void> {
    while (!this.stopped) {
      const row = this.claimHead(targetId, now());
      if (!row) return;
      const target = liveTarget(this.store.db, this.key, targetId);
      if (!target) return;
      const attempt = await this.send(target.url, row.id, target.secret, row.body);
      const t = now();
      const attempts = row.attempts + 1;
      if (attempt.ok) {
        this.store.db
          .prepare("UPDATE notify_outbox SET status = 'delivered', attempts = ?, delivered_at = ?, last_status = ?, last_error = NULL, claimed_until = NULL WHERE id = ?")
          .run(attempts, t, attempt.status, row.id);
        continue;
      }
      const deadline = row.created_at + this.opts.retry.giveUpAfterMs;
      const giveUp = t >= deadline;
      const nextAt = Math.min(t + backoffDelay(attempts, this.opts.retry), deadline);
      this.store.db
        .prepare("UPDATE notify_outbox SET status = ?, attempts = ?, next_at = ?, last_status = ?, last_error = ?, claimed_until = NULL WHERE id = ?")
        .run(giveUp ? "failed" : "pending", attempts, nextAt, attempt.status, attempt.error, row.id);
      log.warn({ target: target.name, url: target.urlHint, delivery: row.id, attempts, status: attempt.status, error: attempt.error, gaveUp: giveUp }, giveUp ? "notification delivery failed for good" : "notification delivery failed; will retry");
      // A failed head that is now final lets the next one go; a head waiting for its retry holds the line.
      if (!giveUp) return;
    }
  }

  private claimHead(targetId: string, now: number): Pending | null {
    return this.store.write(() => {
      const row = this.store.db
        .prepare<[string], Pending>("SELECT id, target_id, body, attempts, created_at, next_at, claimed_until FROM notify_outbox WHERE target_id = ? AND status = 'pending' ORDER BY seq, created_at, id LIMIT 1")
        .get(targetId);
      if (!row || row.next_at > now || (row.claimed_until !== null && row.claimed_until > now)) return null;
      this.store.db.prepare("UPDATE notify_outbox SET claimed_until = ? WHERE id = ?").run(now + this.opts.timeoutMs + CLAIM_MARGIN_MS, row.id);
      return row;
    });
  }

  private async send(url: string, id: string, secret: string, body: string): Promise<{ ok: boolean; status: number | null; error: string | null }> {
    try {
      // No redirects: a webhook that moves must be re-entered by an admin, not followed blindly.
      const res = await fetch(url, { method: "POST", headers: deliveryHeaders(id, secret, body), body, redirect: "manual", signal: AbortSignal.timeout(this.opts.timeoutMs) });
      const text = res.ok ? "" : (await res.text().catch(() => "")).slice(0, 200);
      await res.body?.cancel().catch(() => undefined);
      return res.ok ? { ok: true, status: res.status, error: null } : { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text}` : ""}` };
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
      return { ok: false, status: null, error: err instanceof Error && err.name === "TimeoutError" ? `no answer within ${this.opts.timeoutMs} ms` : `could not connect: ${why}` };
    }
  }
}
