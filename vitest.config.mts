import { defineConfig } from "vitest/config";
import path from "node:path";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(__dirname) } },
  test: {
    include: ["{lib,server,components,app}/**/*.test.{ts,tsx}", "{lib,server,components,app}/**/__tests__/**/*.test.{ts,tsx}"],
    exclude: ["node_modules", ".next", "e2e"],
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Integration tests start real processes on fixed loopback ports; keep files from trampling each other.
    fileParallelism: false,
  },
});
