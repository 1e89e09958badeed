/**
 * Two dashboard replicas on one PostgreSQL, the local fleet under load, and a failover in the middle
 * of a batch: `npx playwright test -c e2e/postgres/playwright.config.ts`. Its global setup (setup.ts)
 * starts everything itself — a throwaway cluster, the fleet, two `next start` processes, building the
 * dashboard first when needed — so no webServer and no sign-in project: the spec signs in on each
 * replica itself. Ports: ROTOR_E2E_PORT (replica A) and ROTOR_E2E_PORT_B (default A + 1); data under
 * ROTOR_E2E_DATA_DIR/postgres. PostgreSQL's server binaries must be installed (`.ci/run` installs
 * them); a missing one fails the run, never a skip.
 */
import path from "node:path";
import { defineConfig } from "@playwright/test";
import base from "../../playwright.config";

const root = path.resolve(__dirname, "..", "..");

export default defineConfig({
  ...base,
  testDir: ".",
  testIgnore: [],
  testMatch: /\.spec\.ts$/,
  outputDir: path.join(root, "test-results", "postgres"),
  globalSetup: path.join(__dirname, "setup.ts"),
  // Global setup may build the dashboard (minutes on a small machine); the spec itself is bounded below.
  globalTimeout: 900_000,
  timeout: 240_000,
  projects: [{ name: "postgres" }],
  webServer: undefined,
});
