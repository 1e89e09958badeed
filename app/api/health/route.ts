import { healthReport } from "@/server/api/health";
import { runtime } from "@/server/runtime";

export const dynamic = "force-dynamic";

/** Readiness and the engine's state (server/api/health.ts): 200 when this process can serve, else 503. */
export function GET() {
  const report = healthReport(runtime());
  return Response.json(report, { status: report.ready ? 200 : 503, headers: { "cache-control": "no-store" } });
}
