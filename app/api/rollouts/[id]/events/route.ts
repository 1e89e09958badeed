import { handleRolloutEvent } from "@/server/api/rollout-commands";

export const dynamic = "force-dynamic";

/** POST /api/rollouts/{id}/events with `Authorization: Bearer <token>`: approve, pause, resume, abort, … */
export function POST(request: Request, ctx: { params: Promise<{ id: string }> }) {
  return handleRolloutEvent(request, ctx);
}
