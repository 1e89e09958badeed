import path from "node:path";
import { LB, control, expect, settledFleet, startRollout, statusMessage, test, trafficFlowing, uniqueVersion, waitForPhase } from "./fixtures";

/**
 * The README's screenshots are taken mid-rollout here. They go to this test's output folder
 * (test-results/, ignored by git) unless ROTOR_SCREENSHOTS names a folder: `npm run screenshots` sets
 * it to public/screenshots, so `npm test` never rewrites a tracked file.
 */
const screenshot = (name: string) => (process.env.ROTOR_SCREENSHOTS ? path.resolve(process.env.ROTOR_SCREENSHOTS, name) : test.info().outputPath(name));

test("click-through deploy: 5 instances in batches of 2, manual approval, under traffic, no failed request", async ({ page, context, fleet, api, request }) => {
  await settledFleet(page, fleet, api);
  await trafficFlowing(fleet);

  const version = uniqueVersion("click");
  const id = await startRollout(page, { version, batchSize: "2" });
  await expect(page.getByRole("heading", { level: 1 })).toContainText(version);

  await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 2 of 3", { timeout: 60_000 });
  await control(page, "Approve batch 2");

  // Mid-rollout: the rollout page and, in a second tab, the fleet page, for the README.
  await expect(statusMessage(page)).toContainText(/^Batch 2 of 3: (draining|stopping|deploying|starting|verifying)/, { timeout: 30_000 });
  const live = (p: typeof page) => p.getByRole("navigation", { name: "Main" }).getByText("Live", { exact: true });
  await expect(live(page)).toBeVisible();
  await page.screenshot({ path: screenshot("rollout.png"), fullPage: true });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: screenshot("rollout-dark.png"), fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });
  const fleetTab = await context.newPage();
  await fleetTab.goto(`/lb/${LB}`);
  await expect(live(fleetTab)).toBeVisible();
  await expect(fleetTab.getByRole("row").filter({ hasText: /batch 2 · (?!queued)/ }).first()).toBeVisible();
  await fleetTab.screenshot({ path: screenshot("fleet.png"), fullPage: true });

  await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 3 of 3", { timeout: 60_000 });
  await control(page, "Approve batch 3");
  await waitForPhase(api, id, "succeeded");
  await expect(page.getByRole("progressbar", { name: "Rollout progress" })).toHaveAttribute("aria-valuenow", "100");
  await expect(statusMessage(page)).toHaveText(`Rolled out ${version} to 5 of 5 instances`);
  await expect(page.getByLabel("Failed requests")).toHaveText("0");

  // Every row of the fleet table shows the new version, as the fleet itself reports it.
  await fleetTab.reload();
  const rows = fleetTab.getByRole("table", { name: `Instances behind ${LB}` }).locator("tbody tr");
  await expect(rows).toHaveCount(5);
  for (const inst of await fleet.instances(LB)) {
    expect(inst.version).toBe(version);
    await expect(rows.filter({ hasText: inst.id })).toContainText(version);
    await expect(rows.filter({ hasText: inst.id })).toContainText("in-service");
  }

  // Traffic ran through both balancers (i-local-1..3 are also behind local-internal), and none of it
  // failed; the page's counter agrees with the fleet's own for this balancer.
  const all = await fleet.traffic();
  expect(all.failed, JSON.stringify(all.recentFailures)).toBe(0);
  const truth = await fleet.lbTraffic(LB);
  expect(truth.requests).toBeGreaterThan(50);
  await expect(fleetTab.getByLabel("Failed requests")).toHaveText(String(truth.failed));
  await expect.poll(async () => Number((await fleetTab.getByLabel("Requests", { exact: true }).textContent())?.replace(/,/g, ""))).toBeGreaterThanOrEqual(truth.requests);

  // The audit trail (JSON Lines export): every action of this click-through, by alice, who is signed in.
  const res = await request.get(`/api/audit?format=jsonl&rollout=${encodeURIComponent(id)}`);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("application/x-ndjson");
  type AuditLine = { kind: string; actor: string; type: string; outcome: string; rolloutId: string | null; batch: number | null; at: number };
  const lines = (await res.text()).split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditLine);
  expect(lines.every((r) => r.kind === "rollout" && r.rolloutId === id && r.at > 0)).toBe(true);
  expect(lines.some((r) => r.actor === "engine")).toBe(true);
  const byOperators = lines.filter((r) => r.actor !== "engine").sort((a, b) => a.at - b.at);
  expect(byOperators.map((r) => [r.actor, r.type, r.outcome, r.batch])).toEqual([
    ["alice", "start", "applied", null],
    ["alice", "approve", "applied", 1],
    ["alice", "approve", "applied", 2],
  ]);
});
