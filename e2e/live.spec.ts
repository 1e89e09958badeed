import { LB, expect, settledFleet, test } from "./fixtures";

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
