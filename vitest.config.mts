import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

const INCLUDE = ["{lib,server,components,app}/**/*.test.{ts,tsx}", "{lib,server,components,app}/**/__tests__/**/*.test.{ts,tsx}"];
const EXCLUDE = ["node_modules", ".next", "e2e"];

// Files that replace modules with vi.mock (next/headers, next/navigation, next/cache): a mock must
// not leak into other files, nor a real module loaded by an earlier file shadow it, so these run in
// a fresh module graph each.
const MOCKING = [
  "server/auth/__tests__/pages.test.ts",
  "server/auth/__tests__/redirects.test.ts",
  "server/auth/__tests__/sign-in-routes.test.ts",
  "app/actions/__tests__/operator-event-action.test.ts",
];

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    // include/exclude are per project (a project's lists would add to the root's, not replace them).
    environment: "node",
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Integration tests start real processes and load traffic on loopback: one file at a time keeps
    // their timing honest on a small machine.
    fileParallelism: false,
    // Rollouts started through the command pipeline get the server's default analysis window (60 s
    // after every batch); the tests that exercise analysis ask for their own window, the rest none.
    env: { ROTOR_ANALYSIS_WINDOW_SEC: "0" },
    // One throwaway PostgreSQL cluster for the run: the store's tests run on SQLite and on PostgreSQL.
    globalSetup: ["server/testing/postgres-global.ts"],
    projects: [
      {
        extends: true,
        // Every other file runs in one worker that keeps its loaded modules (the AWS SDK, Next, React)
        // from file to file instead of loading them again for each of ~90 files. Tests restore the
        // environment variables they set and build their state per test (temp data dirs, runtimes).
        test: { name: "shared", include: INCLUDE, exclude: [...EXCLUDE, ...MOCKING], isolate: false },
      },
      { extends: true, test: { name: "isolated", include: MOCKING, exclude: EXCLUDE, isolate: true } },
    ],
  },
});
