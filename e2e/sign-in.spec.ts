import { expect, test } from "@playwright/test";
import { E2E_USERS, signedOut } from "./users";

// The sign-in page itself, typed as a person would (every other spec signs in through the API fixture).
test.use({ storageState: signedOut });

test("signing in on the page (a wrong password first), landing where one was going, then signing out", async ({ page }) => {
  await page.goto("/rollouts");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Frollouts$/);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in to Rotor" })).toBeVisible();

  await page.getByLabel("Operator name").fill("alice");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("status")).toHaveText("That name or password is wrong.");
  await expect(page).toHaveURL(/\/sign-in/);
  expect((await page.context().cookies()).find((c) => c.name === "rotor_session")).toBeUndefined();

  await expect(page.getByLabel("Operator name")).toHaveValue("alice");
  await page.getByLabel("Password").fill(E2E_USERS.alice.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/rollouts$/);
  await expect(page.getByRole("heading", { level: 1, name: "Rollouts" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toContainText("alice (operator)");
  await expect(nav.getByRole("link", { name: "Audit" })).toBeVisible();
  // Not an admin: no settings links.
  await expect(nav.getByRole("link", { name: "Tokens" })).toHaveCount(0);
  const cookie = (await page.context().cookies()).find((c) => c.name === "rotor_session");
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });

  await nav.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await expect(page.getByLabel("Operator name")).toBeVisible();
  // The old cookie value no longer works anywhere, and pages send one back to sign in.
  const rollouts = await page.request.get("/api/rollouts", { headers: { cookie: `rotor_session=${cookie?.value ?? ""}` } });
  expect(rollouts.status()).toBe(401);
  await page.goto("/rollouts");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Frollouts$/);
});

test("an admin sees the settings links", async ({ browser }) => {
  const ctx = await browser.newContext({ storageState: "e2e/.artifacts/amy.json" });
  try {
    const page = await ctx.newPage();
    await page.goto("/");
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav).toContainText("amy (admin)");
    await nav.getByRole("link", { name: "Operators" }).click();
    await expect(page).toHaveURL(/\/settings\/operators$/);
    await expect(nav.getByRole("link", { name: "Tokens" })).toBeVisible();
  } finally {
    await ctx.close();
  }
});

test("signed out, the read API answers 401 and the pages redirect to sign-in", async ({ page, request }) => {
  for (const path of ["/api/rollouts", "/api/load-balancers", "/api/load-balancers/local/instances", "/api/load-balancers/local/traffic", "/api/faults", "/api/stream", "/api/audit?format=jsonl"]) {
    const res = await request.get(path);
    expect(res.status(), path).toBe(401);
  }
  expect((await request.get("/api/health")).status()).toBe(200);
  for (const path of ["/", "/lb/local", "/rollouts/new?lb=local", "/audit"]) {
    await page.goto(path);
    await expect(page, path).toHaveURL(new RegExp(`/sign-in\\?next=${encodeURIComponent(path)}$`));
  }
});
