import { expect, fillRolloutForm, settledFleet, test, uniqueVersion } from "./fixtures";

const cases = [
  { name: "batch size 0", field: "Batch size", form: { batchSize: "0" }, message: /Batch size 0/ },
  { name: "min healthy too high", field: "Min healthy", form: { batchSize: "2", minHealthy: "5" }, message: /Minimum healthy 5 cannot be kept/ },
  { name: "a version with ;", field: "Version", form: { version: "1.2; rm -rf /" }, message: /Version .*(not allowed|must start with a letter or digit)/ },
  { name: "a version like an option", field: "Version", form: { version: "--force" }, message: /Version .*(not allowed|must start with a letter or digit)/ },
  { name: "a version '..'", field: "Version", form: { version: ".." }, message: /Version .*(not allowed|must start with a letter or digit)/ },
  // The whole fleet in one batch with min healthy left empty: refused, never every instance out by default.
  { name: "the whole fleet in one batch, min healthy empty", field: "Batch size", form: { batchSize: "5" }, message: /takes all 5 instances out, leaving none in service/ },
] as const;

for (const c of cases) {
  test(`invalid input (${c.name}) is refused at the field and creates no rollout`, async ({ page, fleet, api }) => {
    await settledFleet(page, fleet, api);
    const before = (await api.rollouts()).length;
    await fillRolloutForm(page, { version: uniqueVersion("form"), ...c.form });
    const input = page.getByLabel(c.field, { exact: true });
    await expect(input).toHaveAttribute("aria-invalid", "true");
    await expect(input).toHaveAccessibleDescription(c.message);

    // The server refuses it too, with the message at the same field.
    await page.getByRole("button", { name: "Start rollout" }).click();
    await expect(page.getByRole("form", { name: "New rollout" }).getByRole("status")).not.toBeEmpty();
    await expect(page).toHaveURL(/\/rollouts\/new/);
    await expect(input).toHaveAccessibleDescription(c.message);
    expect((await api.rollouts()).length).toBe(before);
  });
}

test("min healthy 0 asks a second time, then the preview shows capacity going to 0 in red", async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
  const before = (await api.rollouts()).length;
  await fillRolloutForm(page, { version: uniqueVersion("zero"), batchSize: "5", minHealthy: "0" });
  const minHealthy = page.getByLabel("Min healthy", { exact: true });
  await expect(minHealthy).toHaveAccessibleDescription(/whole load balancer out of service/);
  // Unconfirmed, the server refuses it as well.
  await page.getByRole("button", { name: "Start rollout" }).click();
  await expect(page.getByRole("form", { name: "New rollout" }).getByRole("status")).toContainText(/whole load balancer out of service/);
  expect((await api.rollouts()).length).toBe(before);

  await page.getByRole("checkbox", { name: /this takes the whole load balancer out of service/ }).check();
  await expect(page.getByRole("list", { name: "Planned batches" })).toBeVisible();
  await expect(page.getByRole("alert").filter({ hasText: "Capacity goes to 0" })).toBeVisible();
  const capacity = page.locator('[data-capacity="none"]');
  await expect(capacity).toHaveCount(1);
  await expect(capacity).toHaveClass(/text-red-700/);
  expect((await api.rollouts()).length).toBe(before);
});
