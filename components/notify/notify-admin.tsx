"use client";

import { useActionState } from "react";
import type { FormAction, FormResult } from "@/components/ui/action-state";
import { statusOf } from "@/components/ui/action-state";
import { Badge, type Tone } from "@/components/ui/badges";
import { describe, Field } from "@/components/ui/field";
import { formatTime } from "@/components/ui/format";
import { ShownOnce } from "@/components/ui/shown-once";
import { StatusLine } from "@/components/ui/status-line";
import { buttonCls, inputCls, Panel, ScrollBox, td, th } from "@/components/ui/table";
import { NOTIFICATION_KINDS, type DeliveryView, type NotificationKind, type NotifyTargetView } from "@/lib/notify";

type Added = { id: string; name: string; secret: string };

const KIND_LABEL: Record<NotificationKind, string> = {
  started: "Started",
  "awaiting-approval": "Awaiting approval",
  "step-failed": "Step failed",
  paused: "Paused",
  finished: "Finished",
  "analysis-failed": "Analysis failed",
  "analysis-inconclusive": "Analysis inconclusive",
};

const STATUS_TONE: Record<DeliveryView["status"], Tone> = { pending: "wait", delivered: "ok", failed: "bad" };

function AddTarget({ action }: { action: FormAction<Added> }) {
  const [state, submit, pending] = useActionState<FormResult<Added> | null, FormData>(action, null);
  const fields = state && !state.ok ? state.fieldErrors : undefined;
  return (
    <form action={submit} aria-label="Add a webhook target" className="space-y-3 p-3">
      <div className="flex flex-wrap items-start gap-3">
        <Field id="target-name" label="Name" hint="e.g. deploys-channel" error={fields?.name}>
          <input {...describe("target-name", fields?.name, true)} name="name" required className={inputCls} />
        </Field>
        <Field id="target-format" label="Format" error={fields?.format}>
          <select id="target-format" name="format" defaultValue="json" className={inputCls}>
            <option value="json">JSON</option>
            <option value="slack">Slack (incoming webhook)</option>
          </select>
        </Field>
        <Field id="target-url" label="URL" hint="kept encrypted; shown as scheme and host only" error={fields?.url}>
          <input {...describe("target-url", fields?.url, true)} name="url" type="url" required className={`${inputCls} w-80 max-w-full`} />
        </Field>
        <Field id="target-lb" label="Load balancer" hint="empty: every load balancer" error={fields?.lb}>
          <input {...describe("target-lb", fields?.lb, true)} name="lb" className={inputCls} />
        </Field>
        <Field id="target-secret" label="Signing secret" hint="empty: Rotor makes one (shown once)" error={fields?.secret}>
          <input {...describe("target-secret", fields?.secret, true)} name="secret" type="password" autoComplete="off" className={inputCls} />
        </Field>
      </div>
      <fieldset className="flex flex-wrap gap-x-4 gap-y-1 text-sm">
        <legend className="mb-1 text-xs font-medium">Events</legend>
        {NOTIFICATION_KINDS.map((k) => (
          <label key={k} className="inline-flex items-center gap-1.5">
            <input type="checkbox" name={`kind-${k}`} defaultChecked />
            {KIND_LABEL[k]}
          </label>
        ))}
        {fields?.kinds ? <p className="w-full text-xs text-red-700 dark:text-red-400">{fields.kinds}</p> : null}
      </fieldset>
      <button type="submit" disabled={pending} className={buttonCls.primary}>Add target</button>
      <StatusLine state={statusOf(state, "Added")} />
      {state?.ok ? <ShownOnce id="new-secret" label={`Signing secret of ${state.data.name}`} value={state.data.secret} /> : null}
    </form>
  );
}

function ChangeTarget({ target, action }: { target: NotifyTargetView; action: FormAction<{ name: string }> }) {
  const [state, submit, pending] = useActionState<FormResult<{ name: string }> | null, FormData>(action, null);
  return (
    <div className="flex flex-wrap items-center gap-2">
      <form action={submit}>
        <input type="hidden" name="id" value={target.id} />
        <input type="hidden" name="change" value={target.enabled ? "disable" : "enable"} />
        <button type="submit" disabled={pending} className={buttonCls.secondary} aria-label={`${target.enabled ? "Turn off" : "Turn on"} ${target.name}`}>
          {target.enabled ? "Turn off" : "Turn on"}
        </button>
      </form>
      <form action={submit} onSubmit={(e) => { if (!confirm(`Remove ${target.name} and its delivery log?`)) e.preventDefault(); }}>
        <input type="hidden" name="id" value={target.id} />
        <input type="hidden" name="change" value="remove" />
        <button type="submit" disabled={pending} className={buttonCls.danger} aria-label={`Remove ${target.name}`}>Remove</button>
      </form>
      {state && !state.ok ? <span role="status" className="text-xs text-red-700 dark:text-red-400">{state.message}</span> : null}
    </div>
  );
}

function DeliveryLog({ target, deliveries }: { target: NotifyTargetView; deliveries: DeliveryView[] }) {
  if (deliveries.length === 0) return <p className="p-3 text-sm text-zinc-600 dark:text-zinc-400">Nothing sent yet.</p>;
  return (
    <ScrollBox label={`Deliveries to ${target.name}`}>
      <table className="w-full text-sm" aria-label={`Deliveries to ${target.name}`}>
        <thead className="border-b border-zinc-200 dark:border-zinc-800">
          <tr>
            {["Event", "Rollout", "Status", "Attempts", "Queued", "Delivered / next try", "Last error"].map((h) => (
              <th key={h} scope="col" className={th}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {deliveries.map((d) => (
            <tr key={d.id}>
              <td className={td}>{KIND_LABEL[d.kind] ?? d.kind}</td>
              <td className={`${td} font-mono`}><a className="underline" href={`/rollouts/${encodeURIComponent(d.rolloutId)}`}>{d.rolloutId}</a></td>
              <td className={td}><Badge t={STATUS_TONE[d.status]} title={d.id}>{d.status}</Badge></td>
              <td className={td}>{d.attempts}</td>
              <td className={td}>{formatTime(d.createdAt)}</td>
              <td className={td}>{d.status === "delivered" ? formatTime(d.deliveredAt) : d.status === "pending" ? formatTime(d.nextAt) : "gave up"}</td>
              <td className={`${td} max-w-md break-words text-xs`}>{d.lastError ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollBox>
  );
}

function SlackUsers({ stored, fromEnv, signing, action }: { stored: string; fromEnv: boolean; signing: boolean; action: FormAction<{ users: number }> }) {
  const [state, submit, pending] = useActionState<FormResult<{ users: number }> | null, FormData>(action, null);
  const error = state && !state.ok ? (state.fieldErrors?.users ?? state.message) : undefined;
  return (
    <form action={submit} aria-label="Slack users" className="space-y-3 p-3 text-sm">
      <p className="text-zinc-700 dark:text-zinc-300">
        Buttons on Slack messages act as the operator a Slack user is mapped to, with that operator&apos;s role and the two-person rule.
        Slack&apos;s interactivity URL: <code className="font-mono">/api/integrations/slack/interactions</code>.{" "}
        {signing ? "The signing secret is set." : <strong>ROTOR_SLACK_SIGNING_SECRET is not set: clicks are refused.</strong>}
        {fromEnv ? " ROTOR_SLACK_USERS also maps users; lines here win." : ""}
      </p>
      <Field id="slack-users" label="Slack user → operator, one a line" hint="e.g. U0123ABCD alice" error={error}>
        <textarea {...describe("slack-users", error, true)} name="users" rows={4} defaultValue={stored} className={`${inputCls} w-96 max-w-full font-mono`} />
      </Field>
      <button type="submit" disabled={pending} className={buttonCls.primary}>Save mapping</button>
      <StatusLine state={statusOf(state, "Saved")} />
    </form>
  );
}

export function NotifyAdmin({
  targets,
  slack,
  add,
  change,
  setSlackUsers,
}: {
  targets: { target: NotifyTargetView; deliveries: DeliveryView[] }[];
  slack: { stored: string; fromEnv: boolean; signing: boolean };
  add: FormAction<Added>;
  change: FormAction<{ name: string }>;
  setSlackUsers: FormAction<{ users: number }>;
}) {
  return (
    <div className="space-y-4">
      <Panel title="New webhook target" id="new-target-heading">
        <AddTarget action={add} />
      </Panel>
      {targets.length === 0 ? (
        <Panel title="Targets" id="targets-heading">
          <p className="p-3 text-sm text-zinc-600 dark:text-zinc-400">No targets yet.</p>
        </Panel>
      ) : (
        targets.map(({ target, deliveries }) => (
          <Panel
            key={target.id}
            id={`target-${target.id}`}
            title={
              <span className="flex flex-wrap items-center gap-2">
                <span className="font-mono">{target.name}</span>
                <Badge t={target.enabled ? "ok" : "idle"}>{target.enabled ? "on" : "off"}</Badge>
                <span className="text-xs font-normal text-zinc-600 dark:text-zinc-400">
                  {target.format === "slack" ? "Slack" : "JSON"} to {target.urlHint} · {target.lb ?? "every load balancer"} · {target.kinds.map((k) => KIND_LABEL[k]).join(", ")}
                </span>
              </span>
            }
            actions={<ChangeTarget target={target} action={change} />}
          >
            <DeliveryLog target={target} deliveries={deliveries} />
          </Panel>
        ))
      )}
      <Panel title="Approve from Slack" id="slack-heading">
        <SlackUsers {...slack} action={setSlackUsers} />
      </Panel>
    </div>
  );
}
