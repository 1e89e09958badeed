import { LB, expect, fillRolloutForm, settledFleet, statusMessage, test, trafficFlowing, uniqueVersion, waitForPhase } from "./fixtures";

test("a batch whose new version answers 500s fails its analysis and is rolled back automatically; the page shows the figures side by side", async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
  await trafficFlowing(fleet);
  const version = uniqueVersion("analysis");
  // Armed on every instance, limited to the new version: the batch misbehaves once it runs it.
  for (const i of await fleet.instances(LB)) await fleet.injectFault({ kind: "backend-500", instanceId: i.id, onVersion: version });
  try {
    await fillRolloutForm(page, { version, batchSize: "2" });
    await page.getByLabel("Window (s)", { exact: true }).fill("10");
    await page.getByLabel("If a batch fails its analysis", { exact: true }).selectOption("rollback");
    await page.getByRole("button", { name: "Start rollout" }).click();
    await page.waitForURL(/\/rollouts\/r-[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");

    const panel = page.getByRole("region", { name: "Batch analysis" });
    await expect(panel).toContainText("10 s after each batch is back in service");
    await expect(panel.getByRole("status")).toContainText(/^Batch 1: analysing i-local-\d, i-local-\d for 10 s against 3 instances on the old version/, { timeout: 45_000 });
    await waitForPhase(api, id, "rolled-back", 90_000);

    const judged = panel.getByRole("region", { name: "Batch 1 analysis" });
    await expect(judged.getByRole("heading")).toContainText("fail");
    const rows = judged.getByRole("table", { name: /Batch 1: the new instances and the old ones/ });
    await expect(rows.getByRole("row", { name: /^Error rate/ })).toContainText("100.00%");
    await expect(rows.getByRole("row", { name: /^Error rate/ })).toContainText("0.00%");
    await expect(judged).toContainText(/Error rate 100\.00% on the new instances vs 0\.00% on the old \(limit 1\.00%\): over the limit\./);
    await expect(judged).toContainText("Rotor rolled the rollout back automatically.");
    await expect(statusMessage(page)).toHaveText(/^Rolled back 2 instances to their previous version/);
    // The timeline says it too.
    await expect(page.getByRole("list", { name: "Events, newest first" }).getByText(/batch 1 analysis on i-local-\d, i-local-\d failed: Error rate 100\.00%/)).toBeVisible();
    expect((await fleet.instances(LB)).every((i) => i.version !== version)).toBe(true);
  } finally {
    await fleet.clearFaults();
  }
});
