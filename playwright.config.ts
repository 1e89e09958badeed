import { defineConfig, devices } from "@playwright/test";
import { hashPasswordSync } from "./server/auth/password";
import { E2E_USERS, stateFile } from "./e2e/users";

const port = Number(process.env.ROTOR_E2E_PORT ?? 3100);
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const dataDir = process.env.ROTOR_E2E_DATA_DIR ?? ".rotor/e2e";
// Every run starts from an empty data dir (database and the fleet's releases): no state from an earlier run.
// The e2e server's operators, hashed here (a cheaper scrypt cost than production's, same format).
const operators = Object.entries(E2E_USERS).map(([name, u]) => ({ name, role: u.role, passwordHash: hashPasswordSync(u.password, { N: 2 ** 14, r: 8, p: 1 }) }));
const wipe = `node -e "require('fs').rmSync(process.argv[1], { recursive: true, force: true })" ${JSON.stringify(dataDir)}`;

export default defineConfig({
  testDir: "e2e",
  // e2e/aws and e2e/apache have their own configs (the dashboard against moto; the fleet on real Apache):
  // `npx playwright test -c e2e/aws/playwright.config.ts`, `-c e2e/apache/playwright.config.ts`; e2e/postgres
  // starts two replicas on PostgreSQL itself: `-c e2e/postgres/playwright.config.ts`.
  testIgnore: ["aws/**", "apache/**", "postgres/**"],
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 1,
  timeout: 120_000,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    // Signs every e2e operator in through POST /api/auth/sign-in and saves their storageState.
    { name: "setup", testMatch: /auth\.setup\.ts/ },
    // Every spec runs signed in as alice (an operator) unless it says otherwise.
    { name: "chromium", use: { ...devices["Desktop Chrome"], storageState: stateFile("alice") }, dependencies: ["setup"] },
  ],
  webServer: {
    command: `${wipe} && npx tsx server/cli/start.ts`,
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      // Batch analysis only where a spec asks for a window: the default 60 s would add a minute to every batch.
      ROTOR_ANALYSIS_WINDOW_SEC: "0",
      ROTOR_PORT: String(port),
      ROTOR_LB_PORT: process.env.ROTOR_E2E_LB_PORT ?? "18080",
      ROTOR_DATA_DIR: dataDir,
      ROTOR_E2E: "1",
      ROTOR_OPERATORS: JSON.stringify(operators),
      // The fleet page's traffic counter is checked against the fleet's own counters: traffic must run.
      ROTOR_TRAFFIC: "on",
      ROTOR_TRAFFIC_RPS: "20",
      // In service after 2 checks 300 ms apart (the unit tests' setting) instead of the demo's 1 s apart:
      // every batch of every spec waits for it.
      ROTOR_HEALTH_CHECK: JSON.stringify({ intervalMs: 300, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 2 }),
      ROTOR_LOG_LEVEL: process.env.ROTOR_LOG_LEVEL ?? "warn",
    },
  },
});
