/**
 * The dashboard against the AWS provider, once, with the moto emulator standing in for AWS:
 * `server/testing/moto.ts` starts moto on a free loopback port, seeds a Classic ELB, a target group and
 * 6 instances over two zones, then runs `npm start`'s entry point with ROTOR_PROVIDER=aws, showing
 * both and one configured name AWS does not have.
 * Runs after the main suite (which builds the dashboard), from `npm run test:e2e`.
 */
import path from "node:path";
import { defineConfig, devices } from "@playwright/test";
import base from "../../playwright.config";
import { stateFile } from "../users";

const root = path.resolve(__dirname, "..", "..");
const port = Number(process.env.ROTOR_E2E_AWS_PORT ?? 3300);
const dataDir = path.join(root, ".rotor", "e2e-aws");
const wipe = `node -e "require('fs').rmSync(process.argv[1], { recursive: true, force: true })" ${JSON.stringify(dataDir)}`;
const baseServer = Array.isArray(base.webServer) ? base.webServer[0] : base.webServer;

export default defineConfig({
  ...base,
  testDir: ".",
  testIgnore: [],
  outputDir: path.join(root, "test-results", "aws"),
  use: { ...base.use, baseURL: `http://127.0.0.1:${port}` },
  projects: [
    // The main suite's sign-in fixture (POST /api/auth/sign-in, the same ROTOR_OPERATORS via base's env).
    { name: "setup", testDir: "..", testMatch: /auth\.setup\.ts/ },
    { name: "aws-moto", use: { ...devices["Desktop Chrome"], storageState: stateFile("alice") }, dependencies: ["setup"] },
  ],
  webServer: {
    // ROTOR_AWS_LOAD_BALANCERS names one load balancer AWS does not have (web-old): it must affect only itself.
    command: `${wipe} && npx tsx server/testing/moto.ts 6 -- env ROTOR_AWS_LOAD_BALANCERS=web,tg_web-tg,web-old npx tsx server/cli/start.ts`,
    cwd: root,
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: "pipe",
    env: {
      // Batch analysis only where a spec asks for a window: the default 60 s would add a minute to every batch.
      ROTOR_ANALYSIS_WINDOW_SEC: "0",
      ...(baseServer?.env ?? {}),
      ROTOR_PORT: String(port),
      ROTOR_DATA_DIR: dataDir,
      ROTOR_PROVIDER: "aws",
    },
  },
});
