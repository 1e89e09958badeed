/**
 * The refusals, end to end against the real dashboard: who may do what, and from where.
 */
import type { APIRequestContext, Browser, BrowserContext, Page } from "@playwright/test";
import { DashboardApi, LB, control, expect, fillRolloutForm, settledFleet, startRollout, statusMessage, test, uniqueVersion, waitForPhase } from "./fixtures";
import { signedOut, stateFile, type E2EUser } from "./users";

interface CapturedAction {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Fills the new-rollout form validly and captures the server-action POST that Start sends, without letting it through. */
async function captureStartAction(page: Page): Promise<CapturedAction> {
  await fillRolloutForm(page, { version: uniqueVersion("replay"), batchSize: "2" });
  await expect(page.getByRole("list", { name: "Planned batches" })).toBeVisible();
  let captured: CapturedAction | undefined;
  await page.route("**/rollouts/new**", async (route) => {
    const req = route.request();
    if (req.method() !== "POST" || !req.headers()["next-action"]) return route.continue();
    captured = { url: req.url(), headers: req.headers(), body: req.postDataBuffer() ?? Buffer.alloc(0) };
    return route.abort();
  });
  await page.getByRole("button", { name: "Start rollout" }).click();
  await expect.poll(() => captured !== undefined, { message: "the Start rollout server action is posted" }).toBe(true);
  await page.unrouteAll({ behavior: "wait" });
  return captured!;
}

/** Sends the captured action again, from `ctx` (its cookies), with the given Origin. */
function replay(ctx: APIRequestContext, a: CapturedAction, origin: string) {
  const keep = ["next-action", "next-router-state-tree", "content-type", "accept"];
  const headers = Object.fromEntries(Object.entries(a.headers).filter(([k]) => keep.includes(k.toLowerCase())));
  return ctx.post(a.url, { headers: { ...headers, origin }, data: a.body, maxRedirects: 0 });
}

async function signedInAs(browser: Browser, name: E2EUser): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ storageState: stateFile(name) });
  return { ctx, page: await ctx.newPage() };
}

test("an unauthenticated server-action call and an unauthenticated POST /api/rollouts are refused and start nothing", async ({ page, playwright, baseURL, fleet, api, request }) => {
  await settledFleet(page, fleet, api);
  const before = await api.rollouts();
  const action = await captureStartAction(page);
  const anonymous = await playwright.request.newContext({ baseURL, storageState: signedOut });
  try {
    // The same request the browser made, minus the session cookie: the action runs and refuses at its first line.
    const res = await replay(anonymous, action, baseURL!);
    expect(res.status()).toBe(200);
    const text = await res.text();
    expect(text).toContain("UNAUTHENTICATED");
    expect(text).not.toContain("Started rollout");

    const body = { data: { lb: LB, version: uniqueVersion("anon"), batchSize: { unit: "count", value: 1 } } };
    expect((await anonymous.post("/api/rollouts", body)).status()).toBe(401);
    expect((await anonymous.post("/api/rollouts", { ...body, headers: { authorization: "Bearer not-a-real-token" } })).status()).toBe(401);
    // alice's session cookie is no credential for a mutating route handler (no CSRF protection there): bearer only.
    expect((await request.post("/api/rollouts", body)).status()).toBe(401);
    // Nor is the events endpoint open to a cookie.
    if (before[0]) expect((await request.post(`/api/rollouts/${encodeURIComponent(before[0].id)}/events`, { data: { type: "pause" } })).status()).toBe(401);

    expect(await api.rollouts()).toEqual(before);
    expect((await api.rollouts()).some((r) => r.active)).toBe(false);
  } finally {
    await anonymous.dispose();
  }
});

test("a cross-origin server-action post is refused by Next's origin check and starts nothing", async ({ page, baseURL, fleet, api, context }) => {
  await settledFleet(page, fleet, api);
  const before = await api.rollouts();
  const action = await captureStartAction(page);
  // Signed in as alice (her cookie goes along, as a browser would send it from another site with SameSite=None), but from a foreign origin.
  const res = await replay(context.request, action, "https://evil.example");
  expect(res.ok()).toBe(false);
  expect(res.status()).toBe(500);
  expect(await res.text()).not.toContain("Started rollout");
  expect(await api.rollouts()).toEqual(before);

  // The same post from the dashboard's own origin but without a session reaches the action (and its guard): only the origin differed above.
  const anonymous = await page.context().browser()!.newContext({ baseURL, storageState: signedOut });
  try {
    const same = await replay(anonymous.request, action, baseURL!);
    expect(await same.text()).toContain("UNAUTHENTICATED");
  } finally {
    await anonymous.close();
  }
  expect(await api.rollouts()).toEqual(before);
});

test("a viewer's approve is refused; with the two-person rule on, the starter's approve is refused and a second operator's succeeds", async ({ browser, page, fleet, api, request }) => {
  const amy = await signedInAs(browser, "amy");
  const setTwoPerson = async (lbs: string, message: RegExp) => {
    await amy.page.goto("/settings/operators");
    const form = amy.page.getByRole("form", { name: "Two-person rule" });
    await form.getByLabel("Load balancers that need a second person to approve").fill(lbs);
    await form.getByRole("button", { name: "Save" }).click();
    await expect(form.getByRole("status")).toHaveText(message);
  };
  const vera = await signedInAs(browser, "vera");
  const bob = await signedInAs(browser, "bob");
  try {
    await settledFleet(page, fleet, api);
    await setTwoPerson(LB, new RegExp(`^Two-person rule on for ${LB}$`));

    const id = await startRollout(page, { version: uniqueVersion("two"), batchSize: "2" });
    const waiting = (n: number) => `Waiting for a second operator to approve batch ${n} of 3 (alice started this rollout and cannot approve it)`;
    await expect(statusMessage(page)).toHaveText(waiting(2), { timeout: 60_000 });

    // The viewer: the control is there (the page does not hide it), the action refuses.
    await vera.page.goto(`/rollouts/${encodeURIComponent(id)}`);
    await expect(statusMessage(vera.page)).toHaveText(waiting(2));
    await control(vera.page, "Approve batch 2");
    await expect(vera.page.getByRole("status").filter({ hasText: "vera has the viewer role; approve needs operator or above" })).toBeVisible();

    // The starter (alice): refused by the two-person rule.
    await control(page, "Approve batch 2");
    await expect(page.getByRole("status").filter({ hasText: `Load balancer ${LB} requires a second person: alice started rollout ${id}` })).toBeVisible();
    expect(await api.phase(id)).toBe("awaiting-approval");
    await expect(statusMessage(page)).toHaveText(waiting(2));

    // A second operator (bob): accepted; the rollout goes on.
    await bob.page.goto(`/rollouts/${encodeURIComponent(id)}`);
    await control(bob.page, "Approve batch 2");
    await expect(bob.page.getByRole("status").filter({ hasText: "Approved: the next batch starts now" })).toBeVisible();
    await expect(statusMessage(bob.page)).toHaveText(waiting(3), { timeout: 60_000 });
    await control(bob.page, "Approve batch 3");
    await waitForPhase(new DashboardApi(bob.ctx.request), id, "succeeded");

    // The audit trail keeps the refusals as well as the approvals, each with its actor.
    const audit = await request.get(`/api/audit?format=jsonl&rollout=${encodeURIComponent(id)}`);
    const rows = (await audit.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l) as { actor: string; type: string; outcome: string; reason: string | null; at: number });
    const byOperators = rows.filter((r) => r.actor !== "engine").sort((a, b) => a.at - b.at);
    expect(byOperators.map((r) => [r.actor, r.type, r.outcome])).toEqual([
      ["alice", "start", "applied"],
      ["vera", "approve", "rejected"],
      ["alice", "approve", "rejected"],
      ["bob", "approve", "applied"],
      ["bob", "approve", "applied"],
    ]);
    expect(byOperators[1]?.reason).toMatch(/^FORBIDDEN: /);
    expect(byOperators[2]?.reason).toMatch(/^TWO_PERSON_RULE: /);
  } finally {
    await setTwoPerson("", /^Two-person rule off/);
    await Promise.all([amy.ctx.close(), vera.ctx.close(), bob.ctx.close()]);
  }
});
