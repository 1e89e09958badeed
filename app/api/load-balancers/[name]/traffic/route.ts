import { respond } from "@/server/api/http";
import { lbTraffic } from "@/server/api/fleet";

export const dynamic = "force-dynamic";

/** GET /api/load-balancers/{name}/traffic: the load balancer's traffic counters (null when not counted). */
export async function GET(_req: Request, ctx: { params: Promise<{ name: string }> }) {
  const { name } = await ctx.params;
  return respond(`read traffic of ${name}`, () => lbTraffic(name));
}
