import { respond } from "@/server/api/http";
import { rolloutList } from "@/server/api/rollouts";

export const dynamic = "force-dynamic";

/** GET /api/rollouts: every rollout, newest first. */
export function GET() {
  return respond("list rollouts", rolloutList);
}
