import { LB, control, expect, settledFleet, startRollout, statusMessage, test, trafficFlowing, uniqueVersion, waitForPhase } from "../fixtures";

test("click-through rollout on Apache httpd + mod_perl: 3 instances one at a time, under traffic, no failed request", async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
  await page.goto(`/lb/${LB}`);
  await expect(page.getByText("Apache httpd + mod_perl servers")).toBeVisible();
  // Each row names its own Apache parent, the pid the fleet reports.
  const before = await fleet.instances(LB);
  expect(before).toHaveLength(3);
  const rows = page.getByRole("table", { name: `Instances behind ${LB}` }).locator("tbody tr");
  for (const inst of before) {
    expect(inst.pid).toEqual(expect.any(Number));
    await expect(rows.filter({ hasText: inst.id })).toContainText(`pid ${inst.pid}`);
  }

  await trafficFlowing(fleet);

  const version = uniqueVersion("apache");
  const id = await startRollout(page, { version, batchSize: "1" });
  await expect(page.getByRole("heading", { level: 1 })).toContainText(version);
  for (const batch of [2, 3]) {
    await expect(statusMessage(page)).toHaveText(`Waiting for approval of batch ${batch} of 3`, { timeout: 60_000 });
    await control(page, `Approve batch ${batch}`);
  }
  await waitForPhase(api, id, "succeeded");
  await expect(statusMessage(page)).toHaveText(`Rolled out ${version} to 3 of 3 instances`);
  await expect(page.getByLabel("Failed requests")).toHaveText("0");

  // The fleet's own word: every Apache restarted (a new parent) and serves the new code, in service.
  await page.goto(`/lb/${LB}`);
  const after = await fleet.instances(LB);
  for (const inst of after) {
    expect(inst).toMatchObject({ version, state: "in-service" });
    expect(inst.pid).not.toBe(before.find((b) => b.id === inst.id)?.pid);
    await expect(rows.filter({ hasText: inst.id })).toContainText(version);
    await expect(rows.filter({ hasText: inst.id })).toContainText(`pid ${inst.pid}`);
  }
  const truth = await fleet.traffic();
  expect(truth.requests).toBeGreaterThan(50);
  expect(truth.failed).toBe(0);
});
