import { expect, test } from "./fixtures";

test("the dashboard renders its shell", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Load balancers" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
});

test("the shell is live, navigable by keyboard, and fetches nothing from another origin", async ({ page, baseURL, fleet }) => {
  const foreign: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(baseURL ?? "") && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  await page.goto("/");
  const lbs = page.getByRole("table", { name: "Load balancers" });
  const lb = lbs.getByRole("link", { name: "local", exact: true });
  await expect(lb).toBeVisible();
  // The local fleet's second balancer, in front of the first 3 of the same instances.
  await expect(lbs.getByRole("link", { name: "local-internal", exact: true })).toBeVisible();
  // The event stream connects (the polling fallback would say "Polling").
  await expect(page.getByRole("navigation", { name: "Main" }).getByText("Live", { exact: true })).toBeVisible();

  await lb.focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/lb\/local$/);
  await expect(page.getByRole("heading", { level: 1, name: "local" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Instances behind local" }).locator("tbody tr")).toHaveCount(5);

  await page.goto("/lb/local-internal");
  await expect(page.getByRole("heading", { level: 1, name: "local-internal" })).toBeVisible();
  const internal = page.getByRole("table", { name: "Instances behind local-internal" }).locator("tbody tr");
  // As the fleet itself lists them: i-local-1..3 at boot, the group's new instances once a replace rollout ran.
  const truth = await fleet.instances("local-internal");
  expect(truth.length).toBeGreaterThanOrEqual(3);
  await expect(internal).toHaveCount(truth.length);
  for (const { id } of truth) await expect(internal.filter({ hasText: id })).toContainText("in-service");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Rollouts" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Rollouts" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Rollouts" })).toHaveAttribute("aria-current", "page");
  expect(foreign).toEqual([]);
});
