import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { respond } from "@/server/api/http";
import { fleetView } from "@/server/api/fleet";

export const dynamic = "force-dynamic";

/** GET /api/load-balancers/{name}/instances: the fleet table, with each instance's rollout step. */
export async function GET(req: Request, ctx: { params: Promise<{ name: string }> }) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  const { name } = await ctx.params;
  return respond(`list instances of ${name}`, () => fleetView(name));
}
