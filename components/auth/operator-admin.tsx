"use client";

import { useActionState } from "react";
import { statusOf, type FormAction, type FormResult } from "@/components/ui/action-state";
import { describe, Field } from "@/components/ui/field";
import { formatTime } from "@/components/ui/format";
import { StatusLine } from "@/components/ui/status-line";
import { buttonCls, inputCls, Panel, ScrollBox, td, th } from "@/components/ui/table";
import type { OperatorView } from "./auth-types";
import { RoleField } from "./role-field";

type Named = { name: string };

function AddOperator({ action }: { action: FormAction<Named> }) {
  const [state, submit, pending] = useActionState<FormResult<Named> | null, FormData>(action, null);
  const f = state && !state.ok ? state.fieldErrors : undefined;
  return (
    <form action={submit} aria-label="Add or update an operator" className="flex flex-wrap items-start gap-3 p-3">
      <Field id="op-name" label="Name" error={f?.name}>
        <input {...describe("op-name", f?.name)} name="name" required autoComplete="off" className={inputCls} />
      </Field>
      <RoleField id="op-role" />
      <Field id="op-password" label="Password" hint="12 characters or more" error={f?.password}>
        <input {...describe("op-password", f?.password, true)} name="password" type="password" required autoComplete="new-password" className={inputCls} />
      </Field>
      <div className="self-end">
        <button type="submit" disabled={pending} className={buttonCls.primary}>Save operator</button>
      </div>
      <div className="w-full">
        <StatusLine state={statusOf(state, "Saved")} />
      </div>
    </form>
  );
}

function Disable({ name, action }: { name: string; action: FormAction<Named> }) {
  const [state, submit, pending] = useActionState<FormResult<Named> | null, FormData>(action, null);
  return (
    <form action={submit}>
      <input type="hidden" name="name" value={name} />
      <button type="submit" disabled={pending} className={buttonCls.danger} aria-label={`Disable ${name}`}>Disable</button>
      {state && !state.ok ? <span role="status" className="ml-2 text-xs text-red-700 dark:text-red-400">{state.message}</span> : null}
    </form>
  );
}

function TwoPerson({ stored, fromEnv, action }: { stored: string[]; fromEnv: string[]; action: FormAction<{ lbs: string[] }> }) {
  const [state, submit, pending] = useActionState<FormResult<{ lbs: string[] }> | null, FormData>(action, null);
  return (
    <form action={submit} aria-label="Two-person rule" className="space-y-2 p-3">
      <Field id="tp-lbs" label="Load balancers that need a second person to approve" hint={fromEnv.length ? `Also on from ROTOR_TWO_PERSON_LBS: ${fromEnv.join(", ")}` : "Comma-separated names; * for all"}>
        <input {...describe("tp-lbs", undefined, true)} name="lbs" defaultValue={stored.join(", ")} className={`${inputCls} w-96`} />
      </Field>
      <button type="submit" disabled={pending} className={buttonCls.primary}>Save</button>
      <StatusLine state={statusOf(state, "Saved")} />
    </form>
  );
}

function LiftLock({ name, action }: { name: string; action: FormAction<Named & { wasLocked: boolean }> }) {
  const [state, submit, pending] = useActionState<FormResult<Named & { wasLocked: boolean }> | null, FormData>(action, null);
  return (
    <form action={submit}>
      <input type="hidden" name="name" value={name} />
      <button type="submit" disabled={pending} className={buttonCls.secondary} aria-label={`Lift the sign-in lock on ${name}`}>Lift lock</button>
      <StatusLine state={statusOf(state, "Lifted")} />
    </form>
  );
}

/** Accounts locked after too many failed sign-ins, with the time left; an admin can lift a lock. */
function Locks({ locks, action }: { locks: { name: string; retryAfterMs: number }[]; action: FormAction<Named & { wasLocked: boolean }> }) {
  if (locks.length === 0) return <p className="p-3 text-sm text-zinc-600 dark:text-zinc-400">No account is locked.</p>;
  return (
    <ul className="divide-y divide-zinc-100 p-3 text-sm dark:divide-zinc-800">
      {locks.map((l) => (
        <li key={l.name} className="flex items-center gap-3 py-1">
          <span className="font-mono">{l.name}</span>
          <span>locked for {Math.ceil(l.retryAfterMs / 60_000)} more min</span>
          <LiftLock name={l.name} action={action} />
        </li>
      ))}
    </ul>
  );
}

export function OperatorAdmin(props: {
  me: string;
  operators: OperatorView[];
  twoPerson: { stored: string[]; fromEnv: string[] };
  add: FormAction<Named>;
  disable: FormAction<Named>;
  setTwoPerson: FormAction<{ lbs: string[] }>;
  locks: { name: string; retryAfterMs: number }[];
  liftLock: FormAction<Named & { wasLocked: boolean }>;
}) {
  return (
    <div className="space-y-4">
      <Panel title="Locked sign-ins" id="locks-heading">
        <Locks locks={props.locks} action={props.liftLock} />
      </Panel>
      <Panel title="Two-person rule" id="two-person-heading">
        <TwoPerson {...props.twoPerson} action={props.setTwoPerson} />
      </Panel>
      <Panel title="Operators" id="operator-list-heading">
        <ScrollBox label="Operators">
          <table className="w-full text-sm">
            <thead className="border-b border-zinc-200 dark:border-zinc-800">
              <tr>
                {["Name", "Role", "Source", "Added", ""].map((h) => (
                  <th key={h} scope="col" className={th}>{h}</th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {props.operators.map((o) => (
                <tr key={o.name} className={o.disabled ? "opacity-60" : ""}>
                  <td className={`${td} font-mono`}>{o.name}</td>
                  <td className={td}>{o.role}</td>
                  <td className={td}>{o.source === "config" ? "configuration" : o.disabled ? "dashboard (disabled)" : "dashboard"}</td>
                  <td className={td}>{o.createdAt ? `${formatTime(o.createdAt)} by ${o.createdBy}` : "—"}</td>
                  <td className={td}>{o.source === "db" && !o.disabled && o.name !== props.me ? <Disable name={o.name} action={props.disable} /> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
        <AddOperator action={props.add} />
      </Panel>
    </div>
  );
}
