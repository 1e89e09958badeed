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

// ROTOR_AWS_LOAD_BALANCERS=web,tg_web-tg,web-old (e2e/aws/playwright.config.ts): AWS has no `web-old`.
const unknownSentence = "ROTOR_AWS_LOAD_BALANCERS names web-old, which AWS does not have";

test("a configured name AWS does not have affects only itself: listed with its sentence, the others work", async ({ page }) => {
  await page.goto("/");
  const row = (name: string) => page.getByRole("row").filter({ has: page.getByRole("link", { name, exact: true }) });
  await expect(row("web-old").getByRole("alert")).toContainText(unknownSentence);
  await expect(row("web")).toContainText("in-service");
  await expect(row("web").getByRole("alert")).toHaveCount(0);
  await expect(row("tg_web-tg").getByRole("alert")).toHaveCount(0);

  await page.goto("/lb/web");
  await expect(page.getByRole("table").getByRole("row").filter({ hasText: "web-1" })).toHaveCount(1);
  await expect(page.getByText(unknownSentence)).toHaveCount(0);
});

test("the unknown name's fleet page and form show the sentence, and its API answers CONFIG", async ({ page }) => {
  for (const path of ["/lb/web-old", "/rollouts/new?lb=web-old"]) {
    await page.goto(path);
    const alert = page.getByRole("alert").filter({ hasText: "Configuration problem" });
    await expect(alert).toContainText(unknownSentence);
    await expect(alert).toContainText("correct the name or remove it from ROTOR_AWS_LOAD_BALANCERS");
  }
  const res = await page.request.get("/api/load-balancers/web-old/instances");
  expect(res.status()).toBe(500);
  expect(await res.json()).toMatchObject({ code: "CONFIG", message: expect.stringContaining(unknownSentence) });
});
