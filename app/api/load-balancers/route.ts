import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { respond } from "@/server/api/http";
import { loadBalancerRows } from "@/server/api/fleet";

export const dynamic = "force-dynamic";

/** GET /api/load-balancers: every load balancer with instance counts, versions, active rollout and traffic. */
export function GET(req: Request) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  return respond("list load balancers", loadBalancerRows);
}
