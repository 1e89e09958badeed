/**
 * Notifications, derived from the rollout event log: which appended event is worth telling people
 * about, and the message bodies sent to webhook targets (generic JSON, Slack-compatible). Pure:
 * the server's notifier (server/notify) feeds each appended event with the rollout's state just before
 * and just after it, and delivers what comes out.
 *
 *   start applied                       → started
 *   phase enters awaiting-approval      → awaiting-approval (batch waiting; Slack: Approve / Pause / Roll back)
 *   step-failed / step-timed-out        → step-failed (the machine's message)
 *   phase enters paused                 → paused (who paused)
 *   phase enters a final phase          → finished (succeeded | rolled-back | aborted)
 *   analysis-finished, verdict fail     → analysis-failed (the first reason, and what Rotor did)
 *   analysis-finished, inconclusive     → analysis-inconclusive
 */
import type { RolloutPhase } from "./rollout/types";

/** Kinds of notification. */
export const NOTIFICATION_KINDS = ["started", "awaiting-approval", "step-failed", "paused", "finished", "analysis-failed", "analysis-inconclusive"] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export type FinishedOutcome = "succeeded" | "rolled-back" | "aborted";

/** What the mapping needs of the rollout's state (lib/rollout's RolloutState fits). */
export interface NotifyState {
  id: string;
  lb: string;
  createdBy: string;
  phase: RolloutPhase;
  plan: { targetVersion: string };
  batches: readonly unknown[];
  outstanding: readonly { type: string; batch?: number; effectId?: string }[];
}

/** What the mapping needs of an appended event (lib/views' StoredEvent fits). */
export interface NotifyEvent {
  seq: number;
  at: number;
  actor: string;
  type: string;
  outcome: "applied" | "rejected" | "info";
  payload: Record<string, unknown>;
}

export interface Notification {
  kind: NotificationKind;
  /** The event that caused it: one notification per (event, kind), which makes derivation idempotent. */
  seq: number;
  at: number;
  rolloutId: string;
  lb: string;
  version: string;
  startedBy: string;
  /** Who caused it: an operator, `engine`, `slack:U1 as alice`. */
  actor: string;
  phase: RolloutPhase;
  /** 0-based batch the rollout waits on (awaiting-approval), when known. */
  batch?: number;
  batches: number;
  outcome?: FinishedOutcome;
  /** step-failed: what failed. */
  message?: string;
}

const FINAL: readonly RolloutPhase[] = ["succeeded", "rolled-back", "aborted"];

/** The notifications an applied event gives rise to (none for rejected or info events). */
export function deriveNotifications(event: NotifyEvent, before: NotifyState, after: NotifyState): Notification[] {
  if (event.outcome !== "applied") return [];
  const base = {
    seq: event.seq,
    at: event.at,
    rolloutId: after.id,
    lb: after.lb,
    version: after.plan.targetVersion,
    startedBy: after.createdBy,
    actor: event.actor,
    phase: after.phase,
    batches: after.batches.length,
  };
  const out: Notification[] = [];
  if (event.type === "start") out.push({ ...base, kind: "started" });
  if (event.type === "step-failed" || event.type === "step-timed-out") {
    out.push({ ...base, kind: "step-failed", message: typeof event.payload.message === "string" ? event.payload.message : "a step failed" });
  }
  const entered = (p: RolloutPhase) => after.phase === p && before.phase !== p;
  if (entered("awaiting-approval")) {
    const gate = after.outstanding.find((e) => e.type === "awaitApproval");
    out.push({ ...base, kind: "awaiting-approval", ...(gate?.batch !== undefined ? { batch: gate.batch } : {}) });
  }
  if (entered("paused")) out.push({ ...base, kind: "paused" });
  if (event.type === "analysis-finished") {
    const a = (event.payload.analysis ?? {}) as { verdict?: unknown; reasons?: unknown };
    const judged = before.outstanding.find((e) => e.type === "analyze" && e.effectId === event.payload.effectId);
    const reason = Array.isArray(a.reasons) && typeof a.reasons[0] === "string" ? a.reasons[0] : "no reason given";
    const then = after.phase === "rolling-back" ? "rolling back automatically" : after.phase === "paused" ? "paused for a person to decide" : `now ${after.phase}`;
    const kind = a.verdict === "fail" ? "analysis-failed" : a.verdict === "inconclusive" ? "analysis-inconclusive" : null;
    if (kind) out.push({ ...base, kind, message: `${reason} — ${then}`, ...(judged?.batch !== undefined ? { batch: judged.batch } : {}) });
  }
  if (FINAL.includes(after.phase) && !FINAL.includes(before.phase)) out.push({ ...base, kind: "finished", outcome: after.phase as FinishedOutcome });
  return out;
}

/** The rollout page's address under `baseUrl` (ROTOR_PUBLIC_URL, else the dashboard's own). */
export function rolloutLink(baseUrl: string, rolloutId: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/rollouts/${encodeURIComponent(rolloutId)}`;
}

/** One line a human reads: "Rollout r-… of 2.0.0 on web: batch 2 of 3 waits for approval". */
export function headline(n: Notification): string {
  const what = `Rollout ${n.rolloutId} of ${n.version} on ${n.lb}`;
  switch (n.kind) {
    case "started":
      return `${what} started by ${n.actor}`;
    case "awaiting-approval":
      return n.batch !== undefined ? `${what}: batch ${n.batch + 1} of ${n.batches} waits for approval` : `${what} waits for approval`;
    case "step-failed":
      return `${what}: a step failed: ${n.message ?? "no message"}`;
    case "paused":
      return `${what} paused by ${n.actor}`;
    case "finished":
      return `${what} ${n.outcome === "succeeded" ? "succeeded" : n.outcome === "rolled-back" ? "was rolled back" : "was aborted"}`;
    case "analysis-failed":
    case "analysis-inconclusive": {
      const batch = n.batch !== undefined ? `batch ${n.batch + 1} of ${n.batches}` : "a batch";
      return `${what}: ${batch} ${n.kind === "analysis-failed" ? "failed its analysis" : "could not be judged"}: ${n.message ?? "no reason given"}`;
    }
  }
}

/** The generic JSON body: the notification as data, with its link and a headline. */
export function jsonBody(n: Notification, link: string, deliveryId: string): Record<string, unknown> {
  return { id: deliveryId, event: n.kind, text: headline(n), link, rollout: { ...n } };
}

/**
 * Slack action ids of the buttons (awaiting approval: Approve / Pause / Roll back; a batch analysis
 * that paused the rollout: Resume / Roll back); the interactions endpoint maps them back.
 */
export const SLACK_ACTIONS = { approve: "rotor.approve", pause: "rotor.pause", rollback: "rotor.rollback", resume: "rotor.resume" } as const;
export type SlackAction = keyof typeof SLACK_ACTIONS;

export function slackActionOf(actionId: string): SlackAction | null {
  const hit = (Object.keys(SLACK_ACTIONS) as SlackAction[]).find((k) => SLACK_ACTIONS[k] === actionId);
  return hit ?? null;
}

/** The `value` of a button: which rollout and which batch it was pressed for (a stale click is refused). */
export interface SlackButtonValue {
  rolloutId: string;
  batch?: number;
}

export function slackButtonValue(v: SlackButtonValue): string {
  return JSON.stringify(v);
}

type Block = Record<string, unknown>;

/** A Slack-compatible message (incoming webhook body): text for notifications, blocks for people. */
export function slackBody(n: Notification, link: string): { text: string; blocks: Block[] } {
  const text = headline(n);
  const blocks: Block[] = [
    { type: "section", text: { type: "mrkdwn", text: `${slackEscape(text)}\n<${link}|Open the rollout>` } },
  ];
  const rollbackButton = (value: string) => ({
    type: "button",
    action_id: SLACK_ACTIONS.rollback,
    style: "danger",
    text: { type: "plain_text", text: "Roll back" },
    value,
    confirm: {
      title: { type: "plain_text", text: "Roll back?" },
      text: { type: "plain_text", text: `Put every instance of ${n.lb} back on the version it ran before.` },
      confirm: { type: "plain_text", text: "Roll back" },
      deny: { type: "plain_text", text: "Cancel" },
    },
  });
  if (n.kind === "awaiting-approval") {
    const value = slackButtonValue({ rolloutId: n.rolloutId, ...(n.batch !== undefined ? { batch: n.batch } : {}) });
    blocks.push({
      type: "actions",
      block_id: `rotor-${n.rolloutId}`,
      elements: [
        { type: "button", action_id: SLACK_ACTIONS.approve, style: "primary", text: { type: "plain_text", text: "Approve" }, value },
        { type: "button", action_id: SLACK_ACTIONS.pause, text: { type: "plain_text", text: "Pause" }, value },
        rollbackButton(value),
      ],
    });
  }
  // A batch analysis that paused the rollout: a person decides, from the message too.
  if ((n.kind === "analysis-failed" || n.kind === "analysis-inconclusive") && n.phase === "paused") {
    const value = slackButtonValue({ rolloutId: n.rolloutId });
    blocks.push({
      type: "actions",
      block_id: `rotor-${n.rolloutId}`,
      elements: [{ type: "button", action_id: SLACK_ACTIONS.resume, text: { type: "plain_text", text: "Resume (accept the batch)" }, value }, rollbackButton(value)],
    });
  }
  return { text, blocks };
}

/** The message an interaction replaces the buttons with: what was done, by whom, or why not. */
export function slackReply(text: string, link: string | null): { replace_original: boolean; text: string; blocks: Block[] } {
  const body = link ? `${slackEscape(text)}\n<${link}|Open the rollout>` : slackEscape(text);
  return { replace_original: true, text, blocks: [{ type: "section", text: { type: "mrkdwn", text: body } }] };
}

/** Slack's mrkdwn control characters (&, <, >) escaped, so a version or a message cannot forge a link. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A webhook target as the admin page shows it: never its secret, and of its URL only scheme and host. */
export interface NotifyTargetView {
  id: string;
  name: string;
  format: "json" | "slack";
  urlHint: string;
  /** null: every load balancer. */
  lb: string | null;
  kinds: NotificationKind[];
  enabled: boolean;
  createdAt: number;
  createdBy: string;
}

/** One delivery in a target's log. */
export interface DeliveryView {
  id: string;
  kind: NotificationKind;
  rolloutId: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  createdAt: number;
  nextAt: number;
  deliveredAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
}
