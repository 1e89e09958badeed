import { defineConfig, globalIgnores } from "eslint/config";
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

/**
 * The rooms' arrows run one way: app -> server -> lib, components -> lib. `rooms(...)` is the import
 * patterns that reach into the named top-level folders, by alias or by relative path.
 */
const rooms = (...names) => names.flatMap((n) => [`@/${n}`, `@/${n}/*`, `**/${n}`, `**/${n}/*`]);

/** lib/ is the pure domain: no I/O, no framework, no vendor SDK, no other room. */
const impureForLib = {
  patterns: [
    { group: ["node:*"], message: "lib/ is pure: no Node built-ins. Put I/O in server/." },
    {
      group: ["fs", "fs/*", "path", "child_process", "http", "https", "net", "os", "crypto", "stream", "worker_threads", "dgram", "tls", "dns", "cluster", "process"],
      message: "lib/ is pure: no Node built-ins. Put I/O in server/.",
    },
    { group: ["next", "next/*"], message: "lib/ is pure: no Next.js. Routes live in app/." },
    { group: ["react", "react/*", "react-dom", "react-dom/*"], message: "lib/ is pure: no React. UI lives in components/." },
    { group: ["@aws-sdk/*", "@smithy/*"], message: "lib/ is pure: no AWS SDK. Providers live in server/providers/." },
    { group: ["better-sqlite3", "pg", "mysql2", "sqlite3", "@libsql/*"], message: "lib/ is pure: no database driver. The store lives in server/store/." },
    { group: ["pino", "pino/*"], message: "lib/ is pure: no logger; return data and let server/ log it." },
    { group: rooms("server", "app", "components"), message: "lib/ may import only lib/ (and pure packages such as zod)." },
  ],
};

export default defineConfig([
  ...nextVitals,
  ...nextTs,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    files: ["lib/**/*.{ts,tsx}"],
    ignores: ["lib/**/*.test.ts", "lib/**/__tests__/**"],
    rules: { "no-restricted-imports": ["error", impureForLib] },
  },
  {
    files: ["components/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: rooms("server"), message: "components/ must not import server/ (types included): pass data in as props or fetch it through /api; shared types live in lib/." },
            { group: rooms("app"), message: "components/ must not import app/: app/ composes components, never the other way." },
          ],
        },
      ],
    },
  },
  {
    files: ["server/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: rooms("components", "app"), message: "server/ must not import components/ or app/ (types included): shared types live in lib/, and only app/ joins server and UI." }] },
      ],
    },
  },
  globalIgnores([".next/**", "node_modules/**", ".rotor/**", "test-results/**", "playwright-report/**", "next-env.d.ts"]),
]);
