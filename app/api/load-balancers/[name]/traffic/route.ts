import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { respond } from "@/server/api/http";
import { lbTraffic } from "@/server/api/fleet";

export const dynamic = "force-dynamic";

/** GET /api/load-balancers/{name}/traffic: the load balancer's traffic counters (null when not counted). */
export async function GET(req: Request, ctx: { params: Promise<{ name: string }> }) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  const { name } = await ctx.params;
  return respond(`read traffic of ${name}`, () => lbTraffic(name));
}
