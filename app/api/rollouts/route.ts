import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { respond } from "@/server/api/http";
import { rolloutList } from "@/server/api/rollouts";

export const dynamic = "force-dynamic";

/** POST /api/rollouts with `Authorization: Bearer <token>` (role operator): start a rollout, 201 with its id. */
export { startRolloutRoute as POST } from "@/server/api/rollout-commands";

/** GET /api/rollouts (a viewer: session cookie or bearer token): every rollout, newest first. */
export function GET(req: Request) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  return respond("list rollouts", rolloutList);
}
