import { expect, test } from "@playwright/test";

test("the dashboard renders its shell", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { level: 1, name: "Load balancers" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
});

test("the shell is live, navigable by keyboard, and fetches nothing from another origin", async ({ page, baseURL }) => {
  const foreign: string[] = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(baseURL ?? "") && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  await page.goto("/");
  const lb = page.getByRole("table", { name: "Load balancers" }).getByRole("link", { name: "local" });
  await expect(lb).toBeVisible();
  // The event stream connects (the polling fallback would say "Polling").
  await expect(page.getByRole("navigation", { name: "Main" }).getByText("Live", { exact: true })).toBeVisible();

  await lb.focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/lb\/local$/);
  await expect(page.getByRole("heading", { level: 1, name: "local" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Instances behind local" }).locator("tbody tr")).toHaveCount(5);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Rollouts" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Rollouts" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Rollouts" })).toHaveAttribute("aria-current", "page");
  expect(foreign).toEqual([]);
});
