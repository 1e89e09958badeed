import { openStream } from "@/server/api/stream";
import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { streamCredential } from "@/server/auth/stream-auth";

export const dynamic = "force-dynamic";

/** GET /api/stream: server-sent events naming what changed (see server/api/stream.ts). */
export function GET(req: Request) {
  return openStream(req, { authorize: () => requireReader(req), credential: streamCredential(req), refuse: authFailureResponse });
}
