import { expect, test } from "@playwright/test";

// moto's seeded estate (server/testing/moto.ts): Classic ELB `web` and target group `tg_web-tg`,
// instances web-1…web-6, three in us-east-1a and three in us-east-1b. Signed in as alice by the setup project.

test("the load balancers page lists the Classic ELB and the target group from AWS", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("link", { name: "web", exact: true })).toBeVisible();
  await expect(page.getByRole("link", { name: "tg_web-tg", exact: true })).toBeVisible();
});

for (const lb of ["web", "tg_web-tg"]) {
  test(`the fleet page of ${lb} lists its 6 instances with their zones and states`, async ({ page }) => {
    await page.goto(`/lb/${lb}`);
    const table = page.getByRole("table");
    for (let n = 1; n <= 6; n++) {
      const row = table.getByRole("row").filter({ hasText: `web-${n}` });
      await expect(row).toHaveCount(1);
      await expect(row).toContainText(n <= 3 ? "us-east-1a" : "us-east-1b");
      await expect(row).toContainText("1.0.0");
    }
    await expect(table.getByRole("row").filter({ hasText: "in-service" })).toHaveCount(6, { timeout: 30_000 });
  });
}
