/** The new pages render as a server would render them: signed out → redirected, wrong role → refused (the Notifications page keeps webhook URLs and secrets off the page). */
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
const NotificationsPage = (await import("@/app/settings/notifications/page")).default;
const { addTargetAction, changeTargetAction, slackUsersAction } = await import("@/app/settings/notifications/actions");

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

const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};
const URL_WITH_TOKEN = "https://hooks.slack.example/services/T000/B000/very-secret-path";

describe("/settings/notifications", () => {
  it("admins only, for the page and every action", async () => {
    as("olga", "operator");
    expect(await html(NotificationsPage())).toContain("Not allowed");
    expect(await addTargetAction(null, form({ name: "x", format: "json", url: "https://a.example/h" }))).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(await slackUsersAction(null, form({ users: "U1 olga" }))).toMatchObject({ ok: false, code: "FORBIDDEN" });
  });

  it("adds a target (secret shown once, never on the page), shows its delivery log, turns it off; refuses bad input with a field message", async () => {
    as("amy", "admin");
    const added = await addTargetAction(null, form({ name: "deploys", format: "slack", url: URL_WITH_TOKEN, lb: "web", "kind-awaiting-approval": "on", "kind-finished": "on" }));
    if (!added.ok) throw new Error(added.message);
    expect(added.data.secret).toMatch(/^whsec_[\w-]{43}$/);

    const id = seedRollout(env.store, { createdBy: "olga" });
    env.store.db
      .prepare("INSERT INTO notify_outbox (id, target_id, seq, kind, rollout_id, body, status, attempts, created_at, next_at, last_error) VALUES ('d-1', ?, 1, 'finished', ?, '{}', 'failed', 7, 1, 1, 'could not connect: ECONNREFUSED')")
      .run(added.data.id, id);
    const page = await html(NotificationsPage());
    expect(page).toContain("deploys");
    expect(page).toContain("https://hooks.slack.example/…");
    expect(page).toContain("Awaiting approval, Finished");
    expect(page).toContain("could not connect: ECONNREFUSED");
    expect(page).toMatch(/failed<\/span>.*>7</);
    expect(page).not.toContain("very-secret-path");
    expect(page).not.toContain(added.data.secret);
    // Nor in the database in the clear.
    const row = JSON.stringify(env.store.db.prepare("SELECT * FROM notify_targets").all());
    expect(row).not.toContain("very-secret-path");
    expect(row).not.toContain(added.data.secret);

    expect(await changeTargetAction(null, form({ id: added.data.id, change: "disable" }))).toMatchObject({ ok: true });
    expect(await html(NotificationsPage())).toContain("Turn on");

    const bad = await addTargetAction(null, form({ name: "x", format: "json", url: "ftp://a.example/h", "kind-started": "on" }));
    expect(bad).toMatchObject({ ok: false, code: "INVALID_INPUT", fieldErrors: { url: "Enter an http(s) URL" } });
    expect(await slackUsersAction(null, form({ users: "U1 olga\nnot a line!" }))).toMatchObject({ ok: false, message: expect.stringMatching(/^Line 2:/) });
    expect(await slackUsersAction(null, form({ users: "U1 olga\nU2=bob" }))).toMatchObject({ ok: true, data: { users: 2 } });
    expect(await html(NotificationsPage())).toContain("U1 olga\nU2 bob");
  });
});
