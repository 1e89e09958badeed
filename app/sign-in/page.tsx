import type { Metadata } from "next";
import { SignInForm } from "@/components/auth/sign-in-form";
import { SignOutButton } from "@/components/auth/sign-out-button";
import { signedInOperator } from "@/server/auth/guard";
import { safeReturnPath } from "@/server/auth/http";
import { oidcSettings } from "@/server/auth/oidc";
import { signInAction, signOutAction } from "./actions";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

function ssoAvailable(): { on: boolean; problem?: string } {
  try {
    return { on: oidcSettings() !== null };
  } catch (err) {
    return { on: false, problem: err instanceof Error ? err.message : String(err) };
  }
}

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const sp = await searchParams;
  const next = safeReturnPath(typeof sp.next === "string" ? sp.next : "/");
  const error = typeof sp.error === "string" ? sp.error.slice(0, 300) : undefined;
  const operator = await signedInOperator();
  const sso = ssoAvailable();
  return (
    <section aria-labelledby="sign-in-heading" className="mx-auto max-w-sm space-y-4 pt-8">
      <h1 id="sign-in-heading" className="text-xl font-semibold">Sign in to Rotor</h1>
      {operator ? (
        <div className="space-y-3">
          <p role="status" className="text-sm">
            Signed in as <span className="font-mono">{operator.name}</span> ({operator.role}).
          </p>
          <SignOutButton action={signOutAction} />
        </div>
      ) : (
        <SignInForm action={signInAction} next={next} ssoHref={sso.on ? `/api/auth/oidc/start?next=${encodeURIComponent(next)}` : undefined} error={error ?? sso.problem} />
      )}
    </section>
  );
}
