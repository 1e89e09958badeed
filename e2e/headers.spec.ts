import { expect, test } from "@playwright/test";

const EXPECTED = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
};

test.describe("security headers, from one place, on every response", () => {
  for (const [what, path, status] of [
    ["a page", "/sign-in", 200],
    ["a route handler", "/api/health", 200],
    ["an error page", "/no-such-page", 404],
  ] as const) {
    test(`${what}: ${path}`, async ({ request }) => {
      const res = await request.get(path, { maxRedirects: 0 });
      expect(res.status()).toBe(status);
      const h = res.headers();
      expect(h).toMatchObject(EXPECTED);
      expect(h["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(h["content-security-policy"]).toContain("default-src 'self'");
      // Plain http here: no HSTS.
      expect(h["strict-transport-security"]).toBeUndefined();
    });
  }

  test("HSTS when served over https (the TLS proxy in front says so)", async ({ request }) => {
    const res = await request.get("/api/health", { headers: { "x-forwarded-proto": "https" } });
    expect(res.headers()["strict-transport-security"]).toMatch(/^max-age=\d{7,}/);
  });

  test("pages still hydrate under the policy, and no framing of the dashboard is possible", async ({ page, baseURL }) => {
    const violations: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await page.goto("/rollouts/new?lb=local");
    // Typing updates the plan preview: client React is running, so the inline bootstrap scripts ran.
    await page.getByLabel("Version", { exact: true }).fill("2.0.0");
    await page.getByLabel("Batch size", { exact: true }).fill("2");
    await expect(page.getByRole("list", { name: "Planned batches" })).toBeVisible();
    expect(violations).toEqual([]);

    await page.setContent(`<iframe title="framed" src="${baseURL}/sign-in"></iframe>`);
    const frame = page.frameLocator('iframe[title="framed"]');
    // The browser refuses to render the framed page: its sign-in form never appears.
    await expect.poll(() => violations.some((v) => /frame-ancestors|refused to display|Refused to frame/i.test(v)), { timeout: 10_000 }).toBe(true);
    await expect(frame.getByRole("button", { name: /sign in/i })).toHaveCount(0);
  });
});
