import { LB, control, expect, settledFleet, startRollout, statusMessage, test, uniqueVersion, waitForPhase } from "./fixtures";

test("a fleet change outside Rotor reaches the open page; without the event stream, polling still brings it", async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
  const nav = page.getByRole("navigation", { name: "Main" });
  const row = page.getByRole("table", { name: `Instances behind ${LB}` }).getByRole("row").filter({ hasText: "i-local-5" });

  // With the stream: the deregistration shows up without a reload.
  await page.goto(`/lb/${LB}`);
  await expect(nav.getByText("Live", { exact: true })).toBeVisible();
  await expect(row).toContainText("in-service");
  try {
    await fleet.deregister(LB, ["i-local-5"]);
    await expect(row).toContainText(/draining|out-of-service/, { timeout: 5_000 });
  } finally {
    await fleet.register(LB, ["i-local-5"]);
  }
  await expect(row).toContainText("in-service", { timeout: 20_000 });

  // Without it (blocked here): the page says so, and polling brings the same change.
  await page.route("**/api/stream", (route) => route.abort());
  await page.reload();
  await expect(nav.getByText("Polling", { exact: true })).toBeVisible();
  try {
    await fleet.deregister(LB, ["i-local-5"]);
    await expect(row).toContainText(/draining|out-of-service/, { timeout: 10_000 });
  } finally {
    await fleet.register(LB, ["i-local-5"]);
  }
  await expect(row).toContainText("in-service", { timeout: 20_000 });
});

test("a rollout's page opened while it moves catches up when its event stream connects after the last change", async ({ page, fleet, api, context }) => {
  await settledFleet(page, fleet, api);
  const id = await startRollout(page, { version: uniqueVersion("late"), batchSize: "3" });

  // A second tab whose stream connects late (a slow phone, a busy machine): held until the rollout stops moving.
  const late = await context.newPage();
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  await late.route("**/api/stream", async (route) => {
    await held;
    await route.continue();
  });
  await late.goto(`/rollouts/${encodeURIComponent(id)}`);
  const rendered = await statusMessage(late).textContent();
  expect(rendered, "the page was rendered while batch 1 was still running").toMatch(/^Batch 1 of 2: /);

  // Every change of batch 1 happens before the stream subscribes: none of them is ever sent to this tab.
  await waitForPhase(api, id, "awaiting-approval");
  release();
  await expect(statusMessage(late)).toHaveText("Waiting for approval of batch 2 of 2", { timeout: 10_000 });

  await control(late, "Approve batch 2");
  await waitForPhase(api, id, "succeeded");
  await expect(statusMessage(late)).toHaveText(/^Rolled out .* to 5 of 5 instances$/);
  await late.close();
});
