import { control, expect, settledFleet, startRollout, startedSteps, staysEqual, statusMessage, test, uniqueVersion, waitForPhase } from "./fixtures";

test("pause during batch 2 holds at the step boundary; resume continues", async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
  const id = await startRollout(page, { version: uniqueVersion("pause"), batchSize: "2" });
  await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 2 of 3", { timeout: 60_000 });
  await control(page, "Approve batch 2");
  await expect(statusMessage(page)).toContainText(/^Batch 2 of 3: /, { timeout: 30_000 });

  await control(page, "Pause");
  await waitForPhase(api, id, "paused", 60_000);
  await expect(page.getByRole("region", { name: "Status" }).getByText("paused", { exact: true })).toBeVisible();
  await expect(statusMessage(page)).toContainText(/^Paused/);

  // Nothing new starts while paused.
  const held = startedSteps(await api.rollout(id));
  await staysEqual(async () => startedSteps(await api.rollout(id)), held, { forMs: 3_000 });
  expect((await api.rollout(id)).summary.phase).toBe("paused");

  await control(page, "Resume");
  await expect.poll(async () => startedSteps(await api.rollout(id)).length, { message: "steps start again after resume" }).toBeGreaterThan(held.length);
  await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 3 of 3", { timeout: 60_000 });
  await control(page, "Approve batch 3");
  await waitForPhase(api, id, "succeeded");
});
