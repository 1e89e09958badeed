import type { NextConfig } from "next";
import { HSTS, securityHeaders, servedOverHttps } from "./lib/security-headers";

const nextConfig: NextConfig = {
  // better-sqlite3 and pino are native / worker-based: keep them out of the server bundle.
  serverExternalPackages: ["better-sqlite3", "pino"],
  poweredByHeader: false,
  typedRoutes: false,
  // The one place security headers are set: every path, pages, route handlers and error pages alike.
  async headers() {
    const every = "/:path*";
    return [
      { source: every, headers: securityHeaders({ dev: process.env.NODE_ENV === "development" }) },
      // https: the public URL says so (read when the dashboard is built), or the TLS proxy in front forwards it.
      servedOverHttps(process.env.ROTOR_PUBLIC_URL)
        ? { source: every, headers: [HSTS] }
        : { source: every, has: [{ type: "header" as const, key: "x-forwarded-proto", value: "https" }], headers: [HSTS] },
    ];
  },
};

export default nextConfig;
