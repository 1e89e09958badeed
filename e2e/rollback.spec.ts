import { LB, control, expect, settledFleet, startRollout, statusMessage, test, uniqueVersion, waitForPhase } from "./fixtures";

test("roll back during batch 2 returns every touched instance to its old version; history says who", async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
  const before = new Map((await fleet.instances(LB)).map((i) => [i.id, i.version]));
  const version = uniqueVersion("rollback");
  const id = await startRollout(page, { version, batchSize: "2" });
  await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 2 of 3", { timeout: 60_000 });
  await control(page, "Approve batch 2");
  await expect(statusMessage(page)).toContainText(/^Batch 2 of 3: /, { timeout: 30_000 });

  await control(page, "Roll back", { confirm: true });
  await waitForPhase(api, id, "rolled-back", 90_000);
  await expect(page.getByRole("region", { name: "Status" }).getByText("rolled back", { exact: true })).toBeVisible();

  const detail = await api.rollout(id);
  const touched = new Set(detail.batches.filter((b) => b.direction === "rollback").flatMap((b) => b.instances.map((i) => i.id)));
  expect(touched.size).toBeGreaterThanOrEqual(2);
  for (const inst of await fleet.instances(LB)) {
    expect(inst.version, `${inst.id} runs its old version`).toBe(before.get(inst.id));
    expect(inst.state).toBe("in-service");
  }

  await page.getByRole("link", { name: "Rollouts" }).click();
  const row = page.getByRole("row").filter({ hasText: id });
  await expect(row).toContainText("rolled back");
  await expect(row).toContainText("rolled back by alice");
});
