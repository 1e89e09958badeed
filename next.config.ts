import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // better-sqlite3 and pino are native / worker-based: keep them out of the server bundle.
  serverExternalPackages: ["better-sqlite3", "pino"],
  poweredByHeader: false,
  typedRoutes: false,
};

export default nextConfig;
