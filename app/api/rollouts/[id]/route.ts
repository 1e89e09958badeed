import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { respond } from "@/server/api/http";
import { rolloutDetail } from "@/server/api/rollouts";

export const dynamic = "force-dynamic";

/** GET /api/rollouts/{id}: the rollout with its batches, per-instance steps, events, phase and next actions. */
export async function GET(req: Request, ctx: { params: Promise<{ id: string }> }) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  const { id } = await ctx.params;
  return respond(`read rollout ${id}`, () => rolloutDetail(id));
}
