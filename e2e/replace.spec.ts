import type { Page } from "@playwright/test";
import { LB, control, expect, fillRolloutForm, settledFleet, statusMessage, test, trafficFlowing, uniqueVersion, waitForPhase } from "./fixtures";

/** The load this spec drives through the fleet's balancers: bounded in rate and in time. */
const RPS = 100;
const LOAD_MS = 80_000;

const previewOf = (page: Page) => page.getByRole("region", { name: /Plan preview/ });
/** Matches an instance id and not a longer one (i-local-1, not i-local-10). */
const idText = (id: string) => new RegExp(`${id}(?!\\d)`);

/**
 * The replace strategy through the browser on the local fleet: the form's preview reads the group
 * (and shows a refusal before anything starts), the rollout launches new instances before each batch
 * goes out (surge), the old ones leave and the new ones arrive on the rollout page and the fleet table,
 * and no request fails under load. In service at `local` is sampled throughout from the fleet itself.
 */
test("replace through the Auto Scaling group with a surge: preview, approve each batch, new instances in, old ones out, no failed request", async ({ page, context, fleet, api }) => {
  await settledFleet(page, fleet, api);
  await trafficFlowing(fleet);
  const before = (await fleet.instances(LB)).map((i) => i.id).sort();
  const group = await fleet.group();
  expect(group.desiredCapacity).toBe(before.length);
  expect(group.maxSize).toBe(before.length + 2);

  await fleet.setTraffic({ enabled: true, rps: RPS, forMs: LOAD_MS });
  let lowest = Infinity;
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const views = await fleet.instances(LB).catch(() => null);
      if (views) {
        lowest = Math.min(lowest, views.filter((v) => v.state === "in-service").length);
        samples++;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  try {
    const version = uniqueVersion("replace");
    await fillRolloutForm(page, { version, batchSize: "3" });
    await page.getByLabel("Replace through the Auto Scaling group").check();
    const preview = previewOf(page);

    // A surge of 3 over desired 5 needs max 8; the group's max is 7: refused in the preview, with its sentence.
    await page.getByLabel("Surge", { exact: true }).fill("3");
    await expect(preview.getByRole("list", { name: "Refusals" })).toContainText(`max is ${group.maxSize}: raise max to ${group.desiredCapacity + 3} or lower the surge to 2`);
    await expect(page.locator("#surge-error")).toContainText(`max is ${group.maxSize}`);

    // Batches of 2 with a surge of 2: in service never below 5, desired back at 5 after each batch.
    await page.getByLabel("Batch size", { exact: true }).fill("2");
    await page.getByLabel("Surge", { exact: true }).fill("2");
    await expect(preview.getByRole("list", { name: "Refusals" })).toHaveCount(0);
    await expect(preview.getByLabel("Auto Scaling group")).toHaveText(group.name);
    await expect(preview.getByLabel("Group capacity")).toHaveText(`min ${group.minSize} · desired ${group.desiredCapacity} · max ${group.maxSize}`);
    await expect(preview.getByLabel("Launch versions")).toContainText(`release ${version}`);
    const steps = preview.getByRole("table", { name: "Capacity at each step" }).locator("tbody tr");
    await expect(steps).toHaveCount(3);
    // Batch, replace, surge, peak desired, lowest in service, end desired.
    await expect(steps.nth(0)).toHaveText(/^1\s*2\s*2\s*7\s*5\s*5$/);
    await expect(steps.nth(2)).toHaveText(/^3\s*1\s*1\s*6\s*5\s*5$/);
    await expect(preview.getByRole("list", { name: "Instances to replace" }).getByRole("listitem")).toHaveCount(3);

    await page.getByRole("button", { name: "Start rollout" }).click();
    await page.waitForURL(/\/rollouts\/r-[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
    await expect(page.getByLabel("Group", { exact: true })).toHaveText(group.name);

    const fleetTab = await context.newPage();
    await fleetTab.goto(`/lb/${LB}`);
    const fleetRows = fleetTab.getByRole("table", { name: `Instances behind ${LB}` }).locator("tbody tr");

    // Batch 1 done: its 2 old instances terminated, 2 new ones launched from the new release.
    await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 2 of 3", { timeout: 45_000 });
    const batch1 = page.getByRole("rowgroup", { name: "Batch 1" });
    await expect(batch1.locator('tr[data-role="old"]')).toHaveCount(2);
    await expect(batch1.locator('tr[data-role="old"]').filter({ hasText: "terminated" })).toHaveCount(2);
    const fresh = batch1.locator('tr[data-role="new"]');
    await expect(fresh).toHaveCount(2);
    await expect(fresh.filter({ hasText: `launched from ${version}` })).toHaveCount(2);
    const gone1 = await batch1.locator('tr[data-role="old"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-instance") ?? ""));
    const new1 = await fresh.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-instance") ?? ""));
    for (const n of new1) expect(before).not.toContain(n);
    // The fleet table: the new ids arrived, the old ones left.
    for (const n of new1) await expect(fleetRows.filter({ hasText: idText(n) })).toHaveCount(1);
    for (const o of gone1) await expect(fleetRows.filter({ hasText: idText(o) })).toHaveCount(0);
    await expect(page.getByLabel("Desired capacity")).toHaveText(`desired ${group.desiredCapacity}`);

    await control(page, "Approve batch 2");
    await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 3 of 3", { timeout: 45_000 });
    await control(page, "Approve batch 3");
    await waitForPhase(api, id, "succeeded", 45_000);
    await expect(statusMessage(page)).toContainText(version);

    // Every instance new and on the new version; the group back at its size; the fleet table agrees.
    const after = await fleet.instances(LB);
    expect(after).toHaveLength(before.length);
    for (const i of after) {
      expect(before).not.toContain(i.id);
      expect(i.version).toBe(version);
      expect(i.state).toBe("in-service");
    }
    expect((await fleet.group()).desiredCapacity).toBe(group.desiredCapacity);
    await expect(fleetRows).toHaveCount(before.length);
    for (const i of after) await expect(fleetRows.filter({ hasText: idText(i.id) })).toContainText(version);
    for (const o of before) await expect(fleetRows.filter({ hasText: idText(o) })).toHaveCount(0);
    // The timeline says what happened to the group, one line each.
    const timeline = page.getByRole("list", { name: "Events, newest first" });
    await expect(timeline.getByText(`set ${group.name}'s desired capacity ${group.desiredCapacity} → ${group.desiredCapacity + 2}`).first()).toBeVisible();
    await expect(timeline.getByText(/terminated i-local-\d+ in .*, decrementing its desired capacity/).first()).toBeVisible();

    sampling = false;
    await sampler;
    const traffic = await fleet.traffic();
    console.log(`replace e2e: ${JSON.stringify({ requests: traffic.requests, failed: traffic.failed, lowestInService: lowest, samples })}`);
    expect(traffic.failed, JSON.stringify(traffic.recentFailures)).toBe(0);
    expect(traffic.requests).toBeGreaterThan(1_000);
    expect(samples).toBeGreaterThan(10);
    expect(lowest).toBeGreaterThanOrEqual(before.length);
    await expect(page.getByLabel("Failed requests")).toHaveText("0");
  } finally {
    sampling = false;
    await sampler;
    await fleet.setTraffic({ enabled: true, rps: 20 });
  }
});
