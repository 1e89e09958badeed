import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { json, respond } from "@/server/api/http";
import { getProvider } from "@/server/providers";
import { createControlClient } from "@/server/providers/local";

export const dynamic = "force-dynamic";

/** GET /api/faults: the local fleet's armed faults (404 for other providers). */
export function GET(req: Request) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  if (getProvider().name !== "local") return json({ code: "NOT_LOCAL", message: "Fault injection exists only for the local fleet" }, 404);
  return respond("list faults", () => createControlClient().faults());
}
