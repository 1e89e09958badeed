import { handleFreeze } from "@/server/api/rollout-commands";

export const dynamic = "force-dynamic";

/** POST /api/load-balancers/{lb}/freeze `{ reason, until }` (bearer, role admin): new rollouts refused until then. */
export function POST(req: Request, ctx: { params: Promise<{ name: string }> }) {
  return handleFreeze(req, ctx);
}

/** DELETE /api/load-balancers/{lb}/freeze (bearer, role admin): lifts the freeze now. */
export function DELETE(req: Request, ctx: { params: Promise<{ name: string }> }) {
  return handleFreeze(req, ctx);
}
