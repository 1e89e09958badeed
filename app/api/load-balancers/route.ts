import { respond } from "@/server/api/http";
import { loadBalancerRows } from "@/server/api/fleet";

export const dynamic = "force-dynamic";

/** GET /api/load-balancers: every load balancer with instance counts, versions, active rollout and traffic. */
export function GET() {
  return respond("list load balancers", loadBalancerRows);
}
