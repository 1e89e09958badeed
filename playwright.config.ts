import { defineConfig, devices } from "@playwright/test";

const port = Number(process.env.ROTOR_E2E_PORT ?? 3100);
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const dataDir = process.env.ROTOR_E2E_DATA_DIR ?? ".rotor/e2e";
// Every run starts from an empty data dir (database and the fleet's releases): no state from an earlier run.
const wipe = `node -e "require('fs').rmSync(process.argv[1], { recursive: true, force: true })" ${JSON.stringify(dataDir)}`;

export default defineConfig({
  testDir: "e2e",
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
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: {
    command: `${wipe} && npx tsx server/cli/start.ts`,
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      ROTOR_PORT: String(port),
      ROTOR_LB_PORT: process.env.ROTOR_E2E_LB_PORT ?? "18080",
      ROTOR_DATA_DIR: dataDir,
      ROTOR_E2E: "1",
      // The fleet page's traffic counter is checked against the fleet's own counters: traffic must run.
      ROTOR_TRAFFIC: "on",
      ROTOR_TRAFFIC_RPS: "20",
      ROTOR_LOG_LEVEL: process.env.ROTOR_LOG_LEVEL ?? "warn",
    },
  },
});
