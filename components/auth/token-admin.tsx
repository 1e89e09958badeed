"use client";

import { useActionState } from "react";
import type { FormAction, FormResult } from "@/components/ui/action-state";
import { statusOf } from "@/components/ui/action-state";
import { Badge } from "@/components/ui/badges";
import { describe, Field } from "@/components/ui/field";
import { formatTime } from "@/components/ui/format";
import { ShownOnce } from "@/components/ui/shown-once";
import { StatusLine } from "@/components/ui/status-line";
import { buttonCls, inputCls, Panel, ScrollBox, td, th } from "@/components/ui/table";
import type { TokenView } from "./auth-types";
import { RoleField } from "./role-field";

type Created = { token: string; name: string; role: string };

function CreateToken({ action }: { action: FormAction<Created> }) {
  const [state, submit, pending] = useActionState<FormResult<Created> | null, FormData>(action, null);
  const fields = state && !state.ok ? state.fieldErrors : undefined;
  return (
    <form action={submit} aria-label="Create an API token" className="space-y-3 p-3">
      <div className="flex flex-wrap items-start gap-3">
        <Field id="token-name" label="Name" hint="e.g. ci-deploy" error={fields?.name}>
          <input {...describe("token-name", fields?.name, true)} name="name" required className={inputCls} />
        </Field>
        <RoleField id="token-role" />
        <Field id="token-days" label="Expires after (days)" hint="empty: until revoked" error={fields?.expiresInDays}>
          <input {...describe("token-days", fields?.expiresInDays, true)} name="expiresInDays" inputMode="numeric" className={`${inputCls} w-24`} />
        </Field>
      </div>
      <button type="submit" disabled={pending} className={buttonCls.primary}>Create token</button>
      <StatusLine state={statusOf(state, "Created")} />
      {state?.ok ? <ShownOnce id="new-token" label={`Token for ${state.data.name}`} value={state.data.token} /> : null}
    </form>
  );
}

function RevokeToken({ token, action }: { token: TokenView; action: FormAction<{ name: string }> }) {
  const [state, submit, pending] = useActionState<FormResult<{ name: string }> | null, FormData>(action, null);
  return (
    <form action={submit} onSubmit={(e) => { if (!confirm(`Revoke ${token.name}? Anything using it stops working at once.`)) e.preventDefault(); }}>
      <input type="hidden" name="id" value={token.id} />
      <button type="submit" disabled={pending} className={buttonCls.danger} aria-label={`Revoke ${token.name}`}>Revoke</button>
      {state && !state.ok ? <span role="status" className="ml-2 text-xs text-red-700 dark:text-red-400">{state.message}</span> : null}
    </form>
  );
}

export function TokenAdmin({ tokens, create, revoke }: { tokens: TokenView[]; create: FormAction<Created>; revoke: FormAction<{ name: string }> }) {
  return (
    <div className="space-y-4">
      <Panel title="New token" id="new-token-heading">
        <CreateToken action={create} />
      </Panel>
      <Panel title="Tokens" id="token-list-heading">
        {tokens.length === 0 ? (
          <p className="p-3 text-sm text-zinc-600 dark:text-zinc-400">No tokens yet.</p>
        ) : (
          <ScrollBox label="Tokens">
            <table className="w-full text-sm">
              <thead className="border-b border-zinc-200 dark:border-zinc-800">
                <tr>
                  {["Name", "Role", "Created", "Last used", "Expires", "State", ""].map((h) => (
                    <th key={h} scope="col" className={th}>{h}</th>
                  ))}
                </tr>
              </thead>
              <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">
                {tokens.map((t) => (
                  <tr key={t.id}>
                    <td className={`${td} font-mono`}>{t.name}</td>
                    <td className={td}>{t.role}</td>
                    <td className={td}>{formatTime(t.createdAt)} by <span className="font-mono">{t.createdBy}</span></td>
                    <td className={td}>{formatTime(t.lastUsedAt)}</td>
                    <td className={td}>{t.expiresAt ? formatTime(t.expiresAt) : "never"}</td>
                    <td className={td}>
                      {t.revokedAt ? <Badge t="idle" title={`by ${t.revokedBy ?? "?"}`}>revoked {formatTime(t.revokedAt)}</Badge> : <Badge t="ok">active</Badge>}
                    </td>
                    <td className={td}>{t.revokedAt ? null : <RevokeToken token={t} action={revoke} />}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </ScrollBox>
        )}
      </Panel>
    </div>
  );
}
