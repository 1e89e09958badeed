import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { faultInjection } from "@/server/api/faults";
import { json, respond } from "@/server/api/http";

export const dynamic = "force-dynamic";

/** GET /api/faults: the armed faults, where the provider can inject them (404 for the others). */
export function GET(req: Request) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  const faults = faultInjection();
  if (!faults) return json({ code: "NOT_LOCAL", message: "Fault injection exists only for the local fleet" }, 404);
  return respond("list faults", () => faults.list());
}
