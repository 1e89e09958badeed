import { LB, control, expect, fillRolloutForm, settledFleet, statusMessage, test, uniqueVersion, waitForPhase } from "./fixtures";

test("an injected deploy failure shows the step's output and waits; retry after clearing the fault succeeds", async ({ page, fleet, api }) => {
  await settledFleet(page, fleet, api);
  const ids = (await fleet.instances(LB)).map((i) => i.id).sort();
  const victim = ids[0] as string;

  // Arm the fault through the fleet page's panel, as a demo would.
  await page.goto(`/lb/${LB}`);
  const panel = page.getByRole("region", { name: "Fault injection (local fleet)" });
  await panel.getByLabel("Fault", { exact: true }).selectOption("deploy-fails");
  await panel.getByLabel("Instance", { exact: true }).selectOption(victim);
  await panel.getByRole("button", { name: "Inject fault" }).click();
  await expect(panel.getByRole("status")).toHaveText(`Armed deploy-fails on ${victim}`);
  await expect(panel.getByRole("list", { name: "Armed faults" })).toContainText(victim);

  // An explicit order puts the victim in batch 1.
  await fillRolloutForm(page, { version: uniqueVersion("fail"), batchSize: "2" });
  await page.getByLabel("Explicit order (optional)").fill(ids.join(" "));
  await expect(page.getByRole("list", { name: "Planned batches" }).getByRole("listitem").first()).toContainText(victim);
  await page.getByRole("button", { name: "Start rollout" }).click();
  await page.waitForURL(/\/rollouts\/r-/);
  const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");

  await waitForPhase(api, id, "failed-awaiting-operator");
  await expect(statusMessage(page)).toContainText(`deploy on ${victim}`);
  const output = page.getByLabel(`Output of deploy on ${victim}`);
  await expect(output).toBeVisible();
  await expect(output).not.toBeEmpty();
  const failedStep = (await api.rollout(id)).batches[0]?.instances.find((i) => i.id === victim)?.steps.find((s) => s.name === "deploy");
  expect(failedStep?.status).toBe("failed");
  await expect(output).toContainText((failedStep?.outputTail ?? "").trim().split("\n").pop() ?? "");
  // The failed instance stays out of rotation while the rollout waits.
  expect((await fleet.instances(LB)).find((i) => i.id === victim)?.state).not.toBe("in-service");

  await fleet.clearFaults();
  await control(page, `Retry deploy on ${victim}`);
  await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 2 of 3", { timeout: 60_000 });
  await control(page, "Approve batch 2");
  await expect(statusMessage(page)).toHaveText("Waiting for approval of batch 3 of 3", { timeout: 60_000 });
  await control(page, "Approve batch 3");
  await waitForPhase(api, id, "succeeded");
});
