import { expect, fillRolloutForm, settledFleet, test, uniqueVersion } from "./fixtures";

const cases = [
  { name: "batch size 0", field: "Batch size", form: { batchSize: "0" }, message: /Batch size 0/ },
  { name: "min healthy too high", field: "Min healthy", form: { batchSize: "2", minHealthy: "5" }, message: /Minimum healthy 5 cannot be kept/ },
  { name: "a version with ;", field: "Version", form: { version: "1.2; rm -rf /" }, message: /Version .*(not allowed|may contain only)/ },
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
