import { LB, expect, settledFleet, test, waitForPhase, uniqueVersion } from "./fixtures";
import { stateFile } from "./users";
import { createTokenOnPage } from "./api-tokens";

test("an admin's API token starts and aborts a rollout as api:<name> for <admin>; once revoked it stops working", async ({ browser, page, fleet, api, playwright, baseURL, request }) => {
  await settledFleet(page, fleet, api);
  const amy = await browser.newContext({ storageState: stateFile("amy") });
  const bearer = await playwright.request.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  try {
    const admin = await amy.newPage();
    const name = `ci-${Date.now() % 1_000_000}`;
    const token = await createTokenOnPage(admin, name, "operator");
    const auth = { authorization: `Bearer ${token}` };

    // The token works: reads, and a CI-style start (no cookie at all), then abort through the events endpoint.
    expect((await bearer.get("/api/rollouts", { headers: auth })).status()).toBe(200);
    const started = await bearer.post("/api/rollouts", { headers: auth, data: { lb: LB, version: uniqueVersion("ci"), batchSize: { unit: "count", value: 2 } } });
    expect(started.status(), await started.text()).toBe(201);
    const id = ((await started.json()) as { data: { id: string } }).data.id;
    expect(started.headers()["location"]).toBe(`/api/rollouts/${encodeURIComponent(id)}`);
    await waitForPhase(api, id, "awaiting-approval");
    const aborted = await bearer.post(`/api/rollouts/${encodeURIComponent(id)}/events`, { headers: auth, data: { type: "abort" } });
    expect(aborted.status(), await aborted.text()).toBe(200);
    await waitForPhase(api, id, "aborted");
    const audit = await request.get(`/api/audit?format=jsonl&rollout=${encodeURIComponent(id)}`);
    const rows = (await audit.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l) as { actor: string; type: string; at: number });
    expect(rows.filter((r) => r.actor !== "engine").sort((a, b) => a.at - b.at).map((r) => [r.actor, r.type])).toEqual([
      [`api:${name} for amy`, "start"],
      [`api:${name} for amy`, "abort"],
    ]);

    // Revoked in the dashboard: the same token is refused everywhere, at once.
    admin.once("dialog", (d) => void d.accept());
    await admin.getByRole("button", { name: `Revoke ${name}` }).click();
    await expect(admin.getByRole("row").filter({ hasText: name })).toContainText("revoked");
    const before = await api.rollouts();
    expect((await bearer.get("/api/rollouts", { headers: auth })).status()).toBe(401);
    expect((await bearer.post("/api/rollouts", { headers: auth, data: { lb: LB, version: uniqueVersion("revoked"), batchSize: { unit: "count", value: 2 } } })).status()).toBe(401);
    expect((await bearer.post(`/api/rollouts/${encodeURIComponent(id)}/events`, { headers: auth, data: { type: "rollback" } })).status()).toBe(401);
    expect(await api.rollouts()).toEqual(before);
  } finally {
    await Promise.all([amy.close(), bearer.dispose()]);
  }
});
