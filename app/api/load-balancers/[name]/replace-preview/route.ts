import { requireReader } from "@/server/auth/audit-route";
import { authFailureResponse } from "@/server/auth/guard";
import { json, respond } from "@/server/api/http";
import { replacePreview } from "@/server/api/replace-preview";
import { fieldErrorRecord } from "@/lib/validation";
import { replacePreviewQuerySchema } from "@/lib/rollout/replace-preview";

export const dynamic = "force-dynamic";

/**
 * GET /api/load-balancers/{name}/replace-preview?target=v2&batchSize=2&surge=2[&batchUnit=percent][&minHealthy=4]:
 * the replace strategy's plan (the group, its capacity at each step) or every reason it cannot start.
 * Read-only: it surveys the group and changes nothing.
 */
export async function GET(req: Request, ctx: { params: Promise<{ name: string }> }) {
  const auth = requireReader(req);
  if (!auth.ok) return authFailureResponse(auth);
  const { name } = await ctx.params;
  const parsed = replacePreviewQuerySchema.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!parsed.success) {
    const fieldErrors = fieldErrorRecord(parsed.error);
    return json({ code: "INVALID_INPUT", message: Object.entries(fieldErrors).map(([f, m]) => `${f}: ${m}`).join("; "), fieldErrors }, 400);
  }
  return respond(`preview the replace rollout of ${name}`, () => replacePreview(name, parsed.data));
}
