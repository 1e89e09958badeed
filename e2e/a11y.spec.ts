import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { LB, expect, settledFleet, startRollout, statusMessage, test, uniqueVersion, waitForPhase } from "./fixtures";
import { signedOut, stateFile } from "./users";

/**
 * Every page, for everyone and on a phone: an automated WCAG 2 A/AA check (axe-core, both colour
 * themes: the app follows prefers-color-scheme), and at 390 px wide no sideways scrolling of the page,
 * every navigation item reachable, and the approval controls usable. Signed in as an admin, whose
 * navigation is the longest.
 */
test.use({ storageState: stateFile("amy") });

const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
const THEMES = ["light", "dark"] as const;

/** The pages that need no rollout, each with what shows it has rendered its data. */
const PAGES: { path: string; ready: (p: Page) => ReturnType<Page["getByRole"]> }[] = [
  { path: "/", ready: (p) => p.getByRole("table", { name: "Load balancers" }).getByRole("link", { name: LB, exact: true }) },
  { path: `/lb/${LB}`, ready: (p) => p.getByRole("table", { name: `Instances behind ${LB}` }).locator("tbody tr").first() },
  { path: `/rollouts/new?lb=${LB}`, ready: (p) => p.getByLabel("Version", { exact: true }) },
  { path: "/rollouts", ready: (p) => p.getByRole("heading", { level: 1, name: /Rollouts/ }) },
  { path: "/audit", ready: (p) => p.getByRole("heading", { level: 1, name: "Audit trail" }) },
  { path: "/settings/operators", ready: (p) => p.getByRole("heading", { level: 1, name: "Operators" }) },
  { path: "/settings/tokens", ready: (p) => p.getByRole("heading", { level: 1, name: "API tokens" }) },
  { path: "/settings/notifications", ready: (p) => p.getByRole("heading", { level: 1, name: "Notifications" }) },
];

/**
 * Serious and critical violations in both themes, one line each: rule, impact, page, theme, targets.
 * The whole rule set runs in the light theme; the dark theme changes colours only (the same DOM, its
 * `dark:` classes are colours), so there only the colour-contrast rule runs again.
 */
async function axeProblems(page: Page, where: string): Promise<string[]> {
  const found: string[] = [];
  for (const theme of THEMES) {
    await page.emulateMedia({ colorScheme: theme });
    const axe = new AxeBuilder({ page }).withTags(WCAG).options({ resultTypes: ["violations"] });
    const { violations } = await (theme === "dark" ? axe.withRules(["color-contrast"]) : axe).analyze();
    for (const v of violations.filter((x) => x.impact === "serious" || x.impact === "critical")) {
      found.push(`${v.id} (${v.impact}) on ${where} [${theme}]: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  return found;
}

/**
 * How far the page scrolls sideways past the 390 px layout viewport (0 when it does not), and the
 * innermost elements that stick out, to say what to fix. Measured against the document's clientWidth,
 * not window.innerWidth: with mobile emulation a too-wide page zooms out and innerWidth grows with it
 * (739 px for a 739 px page), so comparing with innerWidth could never fail.
 */
async function overflow(page: Page): Promise<{ extra: number; culprits: string[] }> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    // Content clipped by a scroll box that itself fits is not what widens the page.
    const clipped = (e: Element) => {
      for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== "visible" && a.getBoundingClientRect().right <= width + 1) return true;
      }
      return false;
    };
    const out = [...document.body.querySelectorAll("*")].filter((e) => e.getBoundingClientRect().right > width + 1 && !clipped(e));
    const leaves = out.filter((e) => !out.some((o) => o !== e && e.contains(o)));
    const name = (e: Element) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ""}${typeof e.className === "string" && e.className ? `.${e.className.split(/\s+/).slice(0, 4).join(".")}` : ""}`;
    return {
      extra: Math.max(document.documentElement.scrollWidth - width, document.documentElement.scrollWidth - window.innerWidth),
      culprits: leaves.slice(0, 5).map((e) => `${name(e)} (right edge ${Math.round(e.getBoundingClientRect().right)} px)`),
    };
  });
}

/**
 * Every item of the main navigation is visible and inside the 390 px layout viewport (the layout wraps
 * them; there is no menu to open).
 */
async function navReachable(page: Page): Promise<void> {
  const nav = page.getByRole("navigation", { name: "Main" });
  const width = await page.evaluate(() => document.documentElement.clientWidth);
  expect(width).toBe(390);
  for (const [role, name] of [...["Rotor", "Load balancers", "Rollouts", "Audit", "Tokens", "Operators", "Notifications"].map((n) => ["link", n] as const), ["button", "Sign out"] as const]) {
    const item = nav.getByRole(role, { name, exact: true });
    await expect(item, `navigation ${role} ${name}`).toBeVisible();
    const box = await item.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= width + 1, `navigation ${role} ${name} at ${JSON.stringify(box)} is on a ${width} px screen`).toBe(true);
  }
}

/** The desktop size is the project's (Desktop Chrome); the phone is 390 × 844, touch. */
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };

interface Visit {
  page: Page;
  mobile: boolean;
}

/** Collects what is wrong instead of stopping at the first page, so one run names every problem. */
class Findings {
  problems: string[] = [];
  widths: string[] = [];

  async check({ page, mobile }: Visit, where: string): Promise<void> {
    const size = mobile ? "390 px" : "desktop";
    this.problems.push(...(await axeProblems(page, `${where} (${size})`)));
    if (mobile) {
      const { extra, culprits } = await overflow(page);
      if (extra > 1) this.widths.push(`${where} scrolls ${extra} px sideways at 390 px: ${culprits.join(", ")}`);
    }
  }

  report(): void {
    expect(this.problems, `serious or critical accessibility violations:\n${this.problems.join("\n")}`).toEqual([]);
    expect(this.widths, `pages that scroll sideways:\n${this.widths.join("\n")}`).toEqual([]);
  }
}

for (const mobile of [false, true]) {
  const size = mobile ? "390 px" : "desktop size";
  test(`every page at ${size}, light and dark: no serious or critical violation${mobile ? ", no sideways scrolling, the whole navigation on screen" : ""}`, async ({ page, browser }) => {
    const found = new Findings();
    const context = mobile ? await browser.newContext(PHONE) : null;
    const v: Visit = { page: context ? await context.newPage() : page, mobile };
    for (const { path, ready } of PAGES) {
      await v.page.goto(path);
      await expect(ready(v.page)).toBeVisible();
      await found.check(v, path);
      if (mobile) await navReachable(v.page);
    }
    await context?.close();

    const anon = await browser.newContext({ ...(mobile ? PHONE : {}), storageState: signedOut });
    const signIn = await anon.newPage();
    await signIn.goto("/sign-in");
    await expect(signIn.getByRole("heading", { level: 1, name: "Sign in to Rotor" })).toBeVisible();
    await found.check({ page: signIn, mobile }, "/sign-in");
    await anon.close();
    found.report();
  });
}

test("a rollout's page waiting for approval and finished, at desktop size and at 390 px: no serious or critical violation, no sideways scrolling, and the approval works on a phone", async ({ page, fleet, api, browser }) => {
  await settledFleet(page, fleet, api);
  const found = new Findings();
  const id = await startRollout(page, { version: uniqueVersion("a11y"), batchSize: "3" });
  const phone = await browser.newContext(PHONE);
  const small = await phone.newPage();
  await small.goto(`/rollouts/${encodeURIComponent(id)}`);
  const visits: Visit[] = [
    { page, mobile: false },
    { page: small, mobile: true },
  ];
  for (const v of visits) {
    await expect(statusMessage(v.page)).toHaveText("Waiting for approval of batch 2 of 2", { timeout: 60_000 });
    await found.check(v, "a rollout waiting for approval");
  }
  await navReachable(small);

  // The approval, on the phone: on screen once scrolled to, enabled, and a tap approves the batch.
  const approve = small.getByRole("group", { name: "Rollout controls" }).getByRole("button", { name: "Approve batch 2", exact: true });
  await approve.scrollIntoViewIfNeeded();
  await expect(approve).toBeInViewport({ ratio: 1 });
  await expect(approve).toBeEnabled();
  await approve.tap();
  await waitForPhase(api, id, "succeeded");

  for (const v of visits) {
    await expect(statusMessage(v.page)).toHaveText(/^Rolled out .* to 5 of 5 instances$/);
    await found.check(v, "a finished rollout");
  }
  await phone.close();
  found.report();
});
