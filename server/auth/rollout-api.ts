/**
 * The automation API (bearer tokens only; see guard.ts for why no cookie):
 *
 * - `POST /api/rollouts` — body: lib's `startRolloutSchema` → 201 `{ ok, data: { id } }`, `Location`.
 *   Lives in the dashboard's `app/api/rollouts/route.ts` as `export { startRolloutRoute as POST }`.
 * - `POST /api/rollouts/{id}/events` — body: an operator event (`{ "type": "approve", "batch": 1 }`,
 *   lib's `operatorEventSchema` without `rolloutId`, which comes from the path) → 200 `{ ok, data }`.
 *
 * Refusals: 401 no/unknown/revoked token, 403 role too low or two-person rule, 400 invalid body,
 * 404 unknown rollout, 409 not possible now (phase, an active rollout), 422 the planner's refusal.
 */
import { fieldErrorRecord, operatorEventSchema, startRolloutSchema, toOperatorEvent } from "@/lib/validation";
import type { ActionResult } from "@/lib/result";
import { componentLog } from "@/server/log";
import { defaultDeps, type RolloutApiDeps } from "./commands";
import { ensureAuthSchema } from "./db";
import { authFailureResponse, requireBearer } from "./guard";
import { authorizeRolloutEvent } from "./rollout-access";

const MAX_BODY = 64 * 1024;
const noStore = { "cache-control": "no-store" };

function answer(body: unknown, status: number, extra: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { ...noStore, ...extra } });
}

const CONFLICT = new Set(["ROLLOUT_ACTIVE", "NOT_ALLOWED_IN_PHASE", "STALE_BATCH", "ROLLBACK_UNAVAILABLE"]);

/** The HTTP status of a refused command. */
export function statusOf(code: string): number {
  if (code === "UNAUTHENTICATED") return 401;
  if (code === "FORBIDDEN" || code === "TWO_PERSON_RULE") return 403;
  if (code === "NOT_FOUND" || code === "UNKNOWN_INSTANCE") return 404;
  if (code === "INVALID_INPUT" || code === "INVALID_EVENT") return 400;
  if (CONFLICT.has(code)) return 409;
  if (code === "PROVIDER_ERROR") return 503;
  return 422;
}

async function readJson(request: Request): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
  if (!(request.headers.get("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    return { ok: false, response: answer({ ok: false, code: "INVALID_INPUT", message: "Send JSON (Content-Type: application/json)." }, 415) };
  }
  const text = await request.text();
  if (text.length > MAX_BODY) return { ok: false, response: answer({ ok: false, code: "INVALID_INPUT", message: "The body is larger than 64 KiB." }, 413) };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, response: answer({ ok: false, code: "INVALID_INPUT", message: "The body is not valid JSON." }, 400) };
  }
}

function result(r: ActionResult<unknown>, okStatus: number, extra: Record<string, string> = {}): Response {
  return r.ok ? answer(r, okStatus, extra) : answer(r, statusOf(r.code));
}

export async function handleStartRollout(request: Request, deps: RolloutApiDeps = defaultDeps()): Promise<Response> {
  const auth = requireBearer(request, "rollout.start", ensureAuthSchema(deps.store.db));
  if (!auth.ok) return authFailureResponse(auth);
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const parsed = startRolloutSchema.safeParse(body.body);
  if (!parsed.success) {
    return answer({ ok: false, code: "INVALID_INPUT", message: "The rollout request is invalid", fieldErrors: fieldErrorRecord(parsed.error) }, 400);
  }
  try {
    const r = await deps.commands.startRollout(parsed.data, auth.operator.name);
    return result(r, 201, r.ok ? { location: `/api/rollouts/${encodeURIComponent(r.data.id)}` } : {});
  } catch (err) {
    componentLog("api").error({ err, actor: auth.operator.name }, "start rollout failed");
    return answer({ ok: false, code: "INTERNAL", message: "Starting the rollout failed on the server; see the dashboard's log." }, 500);
  }
}

/**
 * The route handler itself: `export { startRolloutRoute as POST } from "@/server/auth/rollout-api"`.
 * Not `handleStartRollout` directly: Next passes the route context as the second argument, which
 * would land in `deps`.
 */
export function startRolloutRoute(request: Request): Promise<Response> {
  return handleStartRollout(request);
}

export async function handleRolloutEvent(
  request: Request,
  ctx: { params: Promise<{ id: string }> },
  deps: RolloutApiDeps = defaultDeps(),
): Promise<Response> {
  const { id } = await ctx.params;
  const db = ensureAuthSchema(deps.store.db);
  // Authenticate before reading anything (no rollout ids leak to strangers); the action is checked per event below.
  const auth = requireBearer(request, "read", db);
  if (!auth.ok) return authFailureResponse(auth);
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const raw = body.body;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return answer({ ok: false, code: "INVALID_INPUT", message: 'Send an operator event, e.g. { "type": "approve" }.' }, 400);
  }
  const given = (raw as { rolloutId?: unknown }).rolloutId;
  if (given !== undefined && given !== id) {
    return answer({ ok: false, code: "INVALID_INPUT", message: `The body names rollout ${String(given)} but the path names ${id}.` }, 400);
  }
  const parsed = operatorEventSchema.safeParse({ ...raw, rolloutId: id });
  if (!parsed.success) {
    return answer({ ok: false, code: "INVALID_INPUT", message: "The operator event is invalid", fieldErrors: fieldErrorRecord(parsed.error) }, 400);
  }
  const event = toOperatorEvent(parsed.data);
  if (event.type === "start") {
    return answer({ ok: false, code: "INVALID_INPUT", message: "Start a rollout with POST /api/rollouts." }, 400);
  }
  const access = authorizeRolloutEvent(deps.store, auth.operator, id, event);
  if (!access.ok) return answer(access, statusOf(access.code));
  try {
    return result(await deps.commands.submitOperatorEvent({ rolloutId: id, event }, auth.operator.name), 200);
  } catch (err) {
    componentLog("api").error({ err, rolloutId: id, actor: auth.operator.name }, "operator event failed");
    return answer({ ok: false, code: "INTERNAL", message: "The event failed on the server; see the dashboard's log." }, 500);
  }
}
