import type { Metadata } from "next";
import { Forbidden } from "@/components/auth/forbidden";
import { TokenAdmin } from "@/components/auth/token-admin";
import { authDb } from "@/server/auth/db";
import { pageOperator } from "@/server/auth/guard";
import { listApiTokens } from "@/server/auth/tokens";
import { createTokenAction, revokeTokenAction } from "./actions";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "API tokens" };

export default async function TokensPage() {
  const auth = await pageOperator("tokens.manage", "/settings/tokens");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  return (
    <section aria-labelledby="tokens-heading" className="space-y-4">
      <h1 id="tokens-heading" className="text-xl font-semibold">API tokens</h1>
      <p className="max-w-3xl text-sm text-zinc-600 dark:text-zinc-400">
        For automation: send <code className="font-mono">Authorization: Bearer &lt;token&gt;</code> to <code className="font-mono">POST /api/rollouts</code> and{" "}
        <code className="font-mono">POST /api/rollouts/&#123;id&#125;/events</code>. A token acts as <code className="font-mono">api:&lt;name&gt; for &lt;you&gt;</code> with its role; it is shown once and
        stored only as a hash.
      </p>
      <TokenAdmin tokens={listApiTokens(authDb())} create={createTokenAction} revoke={revokeTokenAction} />
    </section>
  );
}
