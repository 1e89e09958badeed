/**
 * Shared e2e fixtures: the fleet's own control API (ground truth for versions and traffic), the
 * dashboard's read API, and a few steps every spec takes. State is read through APIs; only what a
 * spec is about is clicked.
 */
import { expect, test as base, type APIRequestContext, type Page } from "@playwright/test";
import path from "node:path";
import { CONTROL_SECRET_FILE, readControlSecret } from "@/server/fleet/control-secret";
import { ControlClient } from "@/server/providers/local/control-client";
import type { FleetView, RolloutDetailView, RolloutSummary } from "@/lib/views";
import type { RolloutPhase } from "@/lib/rollout/types";

export const LB = "local";
const lbPort = Number(process.env.ROTOR_E2E_LB_PORT ?? 18080);
export const controlUrl = `http://127.0.0.1:${lbPort + 1}`;
// The e2e server's fleet writes its control API secret into the e2e data dir at each start.
const controlSecretFile = path.join(path.resolve(process.env.ROTOR_E2E_DATA_DIR ?? ".rotor/e2e"), CONTROL_SECRET_FILE);

export class DashboardApi {
  constructor(private readonly request: APIRequestContext) {}
  private async get<T>(path: string): Promise<T> {
    const res = await this.request.get(path);
    expect(res.ok(), `GET ${path} → ${res.status()}`).toBe(true);
    return (await res.json()) as T;
  }
  rollouts = () => this.get<RolloutSummary[]>("/api/rollouts");
  rollout = (id: string) => this.get<RolloutDetailView>(`/api/rollouts/${encodeURIComponent(id)}`);
  fleet = () => this.get<FleetView>(`/api/load-balancers/${LB}/instances`);
  phase = async (id: string): Promise<RolloutPhase> => (await this.rollout(id)).summary.phase;
}

type Fixtures = { fleet: ControlClient; api: DashboardApi };

export const test = base.extend<Fixtures>({
  fleet: async ({}, provide) => {
    await provide(new ControlClient(controlUrl, () => readControlSecret(controlSecretFile)));
  },
  api: async ({ request }, provide) => {
    await provide(new DashboardApi(request));
  },
});

export { expect };

/** A version no earlier run used, so "every row shows it" cannot pass by accident. */
export function uniqueVersion(tag: string): string {
  return `2.${Date.now() % 1_000_000}.0-${tag}`;
}

/**
 * Before a spec: no fault armed, no rollout active, every instance in service. A rollout an earlier
 * (failed) spec left active is rolled back through its page (or aborted when it cannot roll back).
 */
export async function settledFleet(page: Page, fleet: ControlClient, api: DashboardApi): Promise<void> {
  await fleet.clearFaults();
  for (const r of (await api.rollouts()).filter((x) => x.active)) {
    await page.goto(`/rollouts/${encodeURIComponent(r.id)}`);
    const controls = page.getByRole("group", { name: "Rollout controls" });
    const name = (await controls.getByRole("button", { name: "Roll back", exact: true }).isEnabled()) ? "Roll back" : "Abort";
    await control(page, name, { confirm: true });
    await expect.poll(async () => (await api.rollout(r.id)).summary.active, { message: `left-over rollout ${r.id} ends`, timeout: 90_000 }).toBe(false);
  }
  await expect
    .poll(async () => (await fleet.instances(LB)).every((i) => i.state === "in-service"), { message: "every instance in service", timeout: 30_000 })
    .toBe(true);
}

/** Traffic on, counters reset, and seen flowing: the harness must see traffic before it can claim none of it failed. */
export async function trafficFlowing(fleet: ControlClient): Promise<void> {
  await fleet.setTraffic({ enabled: true });
  await fleet.resetTraffic();
  await expect.poll(async () => (await fleet.traffic()).requests, { message: "traffic flows" }).toBeGreaterThan(5);
}

export interface RolloutForm {
  version: string;
  batchSize?: string;
  minHealthy?: string;
}

/** Opens the new-rollout form from the fleet page and fills it in (does not press Start). */
export async function fillRolloutForm(page: Page, form: RolloutForm): Promise<void> {
  await page.goto(`/lb/${LB}`);
  await page.getByRole("link", { name: "New rollout" }).click();
  await expect(page.getByRole("heading", { level: 1, name: /New rollout/ })).toBeVisible();
  await page.getByLabel("Version", { exact: true }).fill(form.version);
  await page.getByLabel("Batch size", { exact: true }).fill(form.batchSize ?? "2");
  if (form.minHealthy !== undefined) await page.getByLabel("Min healthy", { exact: true }).fill(form.minHealthy);
}

/** Starts a rollout through the form; returns its id once its page is open. */
export async function startRollout(page: Page, form: RolloutForm): Promise<string> {
  await fillRolloutForm(page, form);
  await expect(page.getByRole("list", { name: "Planned batches" })).toBeVisible();
  await page.getByRole("button", { name: "Start rollout" }).click();
  await page.waitForURL(/\/rollouts\/r-[^/]+$/);
  const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop() ?? "");
  expect(id).toMatch(/^r-/);
  return id;
}

/** The phase as the page shows it (the badge next to the status message). */
export function statusMessage(page: Page) {
  return page.getByLabel("Rollout status");
}

export async function waitForPhase(api: DashboardApi, id: string, phase: RolloutPhase, timeout = 60_000): Promise<void> {
  await expect.poll(() => api.phase(id), { message: `rollout ${id} reaches ${phase}`, timeout, intervals: [200, 300, 500] }).toBe(phase);
}

/** Clicks a control; destructive ones confirm in their dialog. */
export async function control(page: Page, name: string | RegExp, options: { confirm?: boolean } = {}): Promise<void> {
  const controls = page.getByRole("group", { name: "Rollout controls" });
  await controls.getByRole("button", { name, exact: typeof name === "string" }).click();
  if (options.confirm) {
    const dialog = page.getByRole("dialog");
    await expect(dialog).toBeVisible();
    await dialog.getByRole("button", { name, exact: typeof name === "string" }).click();
    await expect(dialog).toBeHidden();
  }
}

/**
 * Asserts that `read` keeps returning `expected` over an observation window (sampled every
 * `everyMs`): how a spec shows that nothing happens, e.g. no step starts while paused.
 */
export async function staysEqual<T>(read: () => Promise<T>, expected: T, { forMs = 3_000, everyMs = 250 } = {}): Promise<void> {
  const until = Date.now() + forMs;
  let samples = 0;
  do {
    expect((await read()) as unknown).toEqual(expected);
    samples++;
    await new Promise((r) => setTimeout(r, everyMs));
  } while (Date.now() < until);
  expect(samples).toBeGreaterThan(2);
}

/** Ids of the steps that have started so far (any status but pending), across every batch. */
export function startedSteps(r: RolloutDetailView): string[] {
  return r.batches.flatMap((b) => b.instances.flatMap((i) => i.steps.filter((s) => s.status !== "pending").map((s) => `${b.direction}:${i.id}:${s.name}`))).sort();
}
