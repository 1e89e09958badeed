/** The new pages render as a server would render them: signed out → redirected, wrong role → refused. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderToStaticMarkup } from "react-dom/server";
import type { ReactElement } from "react";
import { authDb } from "../db";
import { createSession } from "../sessions";
import { createApiToken } from "../tokens";
import { seedRollout, tempEnv, type TempEnv } from "./helpers";

const jar = vi.hoisted(() => ({ value: undefined as string | undefined }));
vi.mock("next/headers", () => ({
  cookies: async () => ({ get: (name: string) => (name === "rotor_session" && jar.value ? { name, value: jar.value } : undefined) }),
  headers: async () => new Headers(),
}));
vi.mock("next/navigation", () => ({
  redirect: (to: string) => {
    throw new Error(`REDIRECT ${to}`);
  },
}));
vi.mock("next/cache", () => ({ revalidatePath: () => {} }));

const AuditPage = (await import("@/app/audit/page")).default;
const TokensPage = (await import("@/app/settings/tokens/page")).default;
const OperatorsPage = (await import("@/app/settings/operators/page")).default;
const SignInPage = (await import("@/app/sign-in/page")).default;
const { createTokenAction } = await import("@/app/settings/tokens/actions");

let env: TempEnv;
beforeEach(async () => {
  env = await tempEnv();
  jar.value = undefined;
});
afterEach(() => env.cleanup());

const as = (name: string, role: "viewer" | "operator" | "admin") => {
  process.env.ROTOR_OPERATORS = JSON.stringify([]);
  jar.value = createSession(authDb(), { name, role, source: "oidc" }).token;
};
const html = async (el: Promise<ReactElement>) => renderToStaticMarkup(await el);
const sp = (q: Record<string, string>) => ({ searchParams: Promise.resolve(q) });

describe("pages", () => {
  it("/audit: signed out → sign-in with the way back; a viewer sees the filtered trail and export links", async () => {
    await expect(AuditPage(sp({ actor: "alice" }))).rejects.toThrow("REDIRECT /sign-in?next=%2Faudit%3Factor%3Dalice");
    const id = seedRollout(env.store, { createdBy: "alice" });
    as("vera", "viewer");
    const page = await html(AuditPage(sp({ actor: "alice" })));
    expect(page).toContain("Audit trail");
    expect(page).toContain(`href="/rollouts/${id}"`);
    expect(page).toContain('href="/api/audit?actor=alice&amp;format=jsonl"');
    expect(page).toContain('href="/api/audit?actor=alice&amp;format=csv"');
    expect(await html(AuditPage(sp({ outcome: "maybe" })))).toContain("Ignored an invalid filter");
  });

  it("/settings/tokens and /settings/operators: admins only", async () => {
    as("olga", "operator");
    expect(await html(TokensPage())).toContain("olga has the operator role; tokens.manage needs admin or above");
    expect(await html(OperatorsPage())).toContain("Not allowed");
    as("amy", "admin");
    createApiToken(authDb(), { name: "ci", role: "operator" }, "amy");
    const tokens = await html(TokensPage());
    expect(tokens).toContain("API tokens");
    expect(tokens).toContain(">ci<");
    expect(tokens).not.toMatch(/rotor_[\w-]{43}/);
    expect(await html(OperatorsPage())).toContain("Two-person rule");
  });

  it("token server action: refused for an operator, shown once for an admin", async () => {
    const form = new FormData();
    form.set("name", "deploy-bot");
    form.set("role", "operator");
    expect(await createTokenAction(null, form)).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    as("olga", "operator");
    expect(await createTokenAction(null, form)).toMatchObject({ ok: false, code: "FORBIDDEN" });
    as("amy", "admin");
    expect(await createTokenAction(null, form)).toMatchObject({ ok: true, data: { name: "deploy-bot", token: expect.stringMatching(/^rotor_/) } });
  });

  it("/sign-in: the form (next kept, foreign next dropped), or who is signed in", async () => {
    const page = await html(SignInPage(sp({ next: "/rollouts/r-1" })));
    expect(page).toContain("Operator name");
    expect(page).toContain('value="/rollouts/r-1"');
    expect(await html(SignInPage(sp({ next: "//evil.example/x" })))).toContain('name="next" value="/"');
    expect(await html(SignInPage(sp({ error: "The provider refused" })))).toContain("The provider refused");
    as("vera", "viewer");
    expect(await html(SignInPage(sp({})))).toContain("Signed in as <span class=\"font-mono\">vera</span> (viewer)");
  });
});
