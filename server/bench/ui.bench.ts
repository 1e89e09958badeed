/**
 * UI latency: from a state change to the browser showing it, measured in a real Chromium against
 * the built dashboard (`next start`, engine inside) and a real local fleet, all on loopback.
 *
 * Both tabs belong to one operator, signed in through `POST /api/auth/sign-in` as the e2e suite does.
 *
 * - `ui_update_p95_ms` (goal ≤ 300 ms): 20 engine state changes (pause / resume of a rollout that
 *   waits for approval, made by a second tab). The change happens when the event is appended to the
 *   log (its `at`); the observing tab records, with a MutationObserver, when its phase line shows the
 *   new phase. Its only way of learning is the event stream (or the polling fallback): it never acts.
 * - `ui_fleet_update_p95_ms`: 20 fleet changes (an instance deregistered / registered through the
 *   fleet's control API, outside Rotor): from the control API's answer to the fleet table's row
 *   showing the new load balancer state. Includes the monitor's poll interval (500 ms locally).
 *
 * Needs a build (`npx next build`, or `npm start` once) and Chromium; without them the part fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { hashPasswordSync } from "@/server/auth/password";
import { startLocalFleet, type LocalFleetHandle } from "@/server/fleet/testing";
import { freePort } from "@/server/testing/ports";

const ROOT = path.resolve(__dirname, "..", "..");
const CHANGES = 20;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The bench's own operator (a random password per run, hashed at a cheaper cost, as e2e does). */
const OPERATOR = { name: "bench", password: `bench-${process.pid}-${Date.now()}` };

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? Number.NaN;
}

function summary(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${name}: n=${s.length} min ${s[0]} ms, p50 ${s[Math.floor(s.length / 2)]} ms, p95 ${p95(s)} ms, max ${s[s.length - 1]} ms`;
}

async function waitFor<T>(what: string, read: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read().catch(() => null);
    if (v) return v;
    if (Date.now() > until) throw new Error(`ui bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startDashboard(fleet: LocalFleetHandle, dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, "node_modules", "next", "dist", "bin", "next"), "start", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: ROOT,
    env: {
      ...process.env,
      ROTOR_OPERATORS: JSON.stringify([{ name: OPERATOR.name, role: "operator", passwordHash: hashPasswordSync(OPERATOR.password, { N: 2 ** 14, r: 8, p: 1 }) }]),
      ROTOR_PROVIDER: "local", ROTOR_DATA_DIR: dataDir, ROTOR_CONTROL_URL: fleet.controlUrl, ROTOR_LB_PORT: String(fleet.lbPort), ROTOR_LOG_LEVEL: "warn", ROTOR_PORT: String(port),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("the dashboard", async () => (await fetch(`${url}/api/health`)).ok, 60_000);
  return { url, child };
}

/**
 * Records when the element's text changes, in the page's clock (the same machine clock as the
 * server's); the returned function finds the first change at or after `after` that matches.
 */
async function observe(page: Page, selector: string) {
  await page.evaluate((sel) => {
    const w = window as unknown as { __seen: { text: string; at: number }[] };
    w.__seen = [];
    const target = document.querySelector(sel);
    if (!target) throw new Error(`no ${sel}`);
    new MutationObserver(() => w.__seen.push({ text: target.textContent ?? "", at: Date.now() })).observe(target, { subtree: true, childList: true, characterData: true });
  }, selector);
  return async (match: RegExp, after: number) =>
    waitFor(`the page to show ${match}`, () =>
      page.evaluate(
        ({ src, after }) => (window as unknown as { __seen: { text: string; at: number }[] }).__seen.find((s) => s.at >= after && new RegExp(src).test(s.text))?.at ?? null,
        { src: match.source, after },
      ),
    );
}

/** A browser context signed in as the bench's operator; its pages and its `request` share the session cookie. */
async function signedIn(browser: Browser, url: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: url });
  const res = await context.request.post("/api/auth/sign-in", { data: OPERATOR });
  if (res.status() !== 200) throw new Error(`ui bench: sign-in answered ${res.status()}: ${await res.text()}`);
  return context;
}

async function engineChanges(context: BrowserContext, url: string): Promise<number[]> {
  const actor = await context.newPage();
  await actor.goto(`${url}/rollouts/new?lb=local`);
  await actor.getByLabel("Version", { exact: true }).fill("9.9.9-uibench");
  await actor.getByLabel("Batch size", { exact: true }).fill("2");
  // The bench times the page's updates, not batch analysis: no analysis window.
  await actor.getByLabel("Window (s)", { exact: true }).fill("0");
  await actor.getByRole("button", { name: "Start rollout" }).click();
  await actor.waitForURL(/\/rollouts\/r-/);
  const id = decodeURIComponent(new URL(actor.url()).pathname.split("/").pop() ?? "");
  const status = actor.getByLabel("Rollout status");
  await waitFor("batch 2 to await approval", async () => /^Waiting for approval/.test((await status.textContent()) ?? ""), 90_000);

  const observer = await context.newPage();
  await observer.goto(`${url}/rollouts/${encodeURIComponent(id)}`);
  await waitFor("the observer's event stream", async () => (await observer.getByText("Live", { exact: true }).count()) > 0);
  const seen = await observe(observer, '[aria-label="Rollout status"]');

  const latencies: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const pause = i % 2 === 0;
    const before = Date.now();
    await actor.getByRole("group", { name: "Rollout controls" }).getByRole("button", { name: pause ? "Pause" : "Resume", exact: true }).click();
    const type = pause ? "pause" : "resume";
    const event = await waitFor(`the ${type} event`, async () => {
      const r = (await (await context.request.get(`/api/rollouts/${encodeURIComponent(id)}`)).json()) as { events: { type: string; at: number; outcome: string }[] };
      return r.events.filter((e) => e.type === type && e.outcome === "applied" && e.at >= before - 50).pop();
    });
    const shownAt = await seen(pause ? /^Paused/ : /^Waiting for approval/, event.at);
    latencies.push(Math.max(0, shownAt - event.at));
    // Let the actor's own page settle so its next click finds the right button enabled.
    await waitFor("the actor's page", async () => (pause ? /^Paused/ : /^Waiting/).test((await status.textContent()) ?? ""));
  }
  await observer.close();
  await actor.close();
  return latencies;
}

async function fleetChanges(context: BrowserContext, url: string, fleet: LocalFleetHandle): Promise<number[]> {
  const page = await context.newPage();
  await page.goto(`${url}/lb/local`);
  await waitFor("the fleet page's event stream", async () => (await page.getByText("Live", { exact: true }).count()) > 0);
  const latencies: number[] = [];
  const id = "i-local-5";
  const row = page.locator(`tr[data-instance="${id}"]`);
  await waitFor("the row", async () => (await row.count()) > 0);
  const seen = await observe(page, `tr[data-instance="${id}"] td:nth-of-type(2)`);
  for (let i = 0; i < CHANGES; i++) {
    const out = i % 2 === 0;
    const changedAt = Date.now();
    if (out) await fleet.control.deregister("local", [id]);
    else await fleet.control.register("local", [id]);
    const shownAt = await seen(out ? /out-of-service|draining/ : /registering|in-service/, changedAt);
    latencies.push(Math.max(0, shownAt - changedAt));
    // Settle into a steady state before the next change, so each change is a fresh one.
    await waitFor("the instance to settle", async () => {
      const inst = (await fleet.control.instances("local")).find((x) => x.id === id);
      return out ? inst?.state === "out-of-service" : inst?.state === "in-service";
    });
  }
  await page.close();
  return latencies;
}

export async function run(): Promise<Record<string, number>> {
  if (!existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
    throw new Error("ui bench: no dashboard build (.next/BUILD_ID); run `npx next build` or `npm start` once");
  }
  if (!existsSync(CHROMIUM)) throw new Error(`ui bench: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);
  const dataDir = mkdtempSync(path.join(tmpdir(), "rotor-ui-bench-"));
  let fleet: LocalFleetHandle | null = null;
  let dashboard: ChildProcess | null = null;
  let browser: Browser | null = null;
  try {
    fleet = await startLocalFleet({ instances: 5, dataDir, trafficRps: 10 });
    const d = await startDashboard(fleet, dataDir);
    dashboard = d.child;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--no-first-run"] });
    const context = await signedIn(browser, d.url);
    const engine = await engineChanges(context, d.url);
    console.error(`ui bench: ${summary("engine change → screen", engine)}`);
    const fleetLat = await fleetChanges(context, d.url, fleet);
    console.error(`ui bench: ${summary("fleet change → screen", fleetLat)}`);
    return { ui_update_p95_ms: p95(engine), ui_fleet_update_p95_ms: p95(fleetLat) };
  } finally {
    await browser?.close().catch(() => {});
    if (dashboard && dashboard.exitCode === null) {
      const exited = new Promise((r) => dashboard?.once("exit", r));
      dashboard.kill("SIGTERM");
      const t = setTimeout(() => dashboard?.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    }
    await fleet?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
