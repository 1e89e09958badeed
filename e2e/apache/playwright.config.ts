/**
 * The dashboard on the local fleet run as real Apache httpd + mod_perl servers (ROTOR_FLEET_SERVER=apache):
 * `npx playwright test -c e2e/apache/playwright.config.ts`. Same operators, ports and data dir as the
 * main suite (it runs after it, from `npm run test:e2e`; the data dir is wiped at start); 3 instances,
 * enough for a click-through with two approvals. Apache and mod_perl must be installed: a missing one
 * stops the dashboard's start with what to install, and the run fails (never a skip).
 */
import path from "node:path";
import { defineConfig, devices } from "@playwright/test";
import base from "../../playwright.config";
import { stateFile } from "../users";

const root = path.resolve(__dirname, "..", "..");
const baseServer = Array.isArray(base.webServer) ? base.webServer[0] : base.webServer;
if (!baseServer) throw new Error("the main Playwright config has no webServer to extend");

export default defineConfig({
  ...base,
  testDir: ".",
  testIgnore: [],
  outputDir: path.join(root, "test-results", "apache"),
  projects: [
    { name: "setup", testDir: "..", testMatch: /auth\.setup\.ts/ },
    { name: "apache", use: { ...devices["Desktop Chrome"], storageState: stateFile("alice") }, dependencies: ["setup"] },
  ],
  webServer: {
    ...baseServer,
    cwd: root,
    env: {
      // Batch analysis only where a spec asks for a window: the default 60 s would add a minute to every batch.
      ROTOR_ANALYSIS_WINDOW_SEC: "0",
      ...(baseServer.env ?? {}),
      ROTOR_FLEET_SERVER: "apache",
      ROTOR_INSTANCES: "3",
    },
  },
});
