import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    include: ["{lib,server,components,app}/**/*.test.{ts,tsx}", "{lib,server,components,app}/**/__tests__/**/*.test.{ts,tsx}"],
    exclude: ["node_modules", ".next", "e2e"],
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Integration tests start real processes on fixed loopback ports; keep files from trampling each other.
    fileParallelism: false,
    // Rollouts started through the command pipeline get the server's default analysis window (60 s
    // after every batch); the tests that exercise analysis ask for their own window, the rest none.
    env: { ROTOR_ANALYSIS_WINDOW_SEC: "0" },
  },
});
