/**
 * The automation API (bearer tokens only; see guard.ts for why no cookie):
 *
 * - `POST /api/rollouts` — body: lib's `startRolloutSchema` → 201 `{ ok, data: { id } }`, `Location`.
 *   Lives in the dashboard's `app/api/rollouts/route.ts` as `export { startRolloutRoute as POST }`.
 * - `POST /api/rollouts/{id}/events` — body: an operator event (`{ "type": "approve", "batch": 1 }`,
 *   lib's `operatorEventSchema` without `rolloutId`, which comes from the path) → 200 `{ ok, data }`.
 *
 * - `POST /api/load-balancers/{lb}/freeze` — body `{ "reason": "…", "until": "8h" | "2026-12-24T18:00Z" }`
 *   (role admin) → 201 `{ ok, data: { freeze } }`; `DELETE` the same path lifts it → 200.
 *
 * Refusals: 401 no/unknown/revoked token, 403 role too low or two-person rule, 400 invalid body,
 * 404 unknown rollout, 409 not possible now (phase, an active rollout), 422 the planner's refusal
 * (lib/result.ts's ERROR_STATUS). Both only authenticate the token and read the JSON; the command
 * pipeline (server/commands) parses, authorizes and appends, as it does for the dashboard's actions.
 */
import { httpStatus, type ActionResult } from "@/lib/result";
import { ensureAuthSchema } from "@/server/auth/db";
import { authFailureResponse, requireBearer } from "@/server/auth/guard";
import { runCommand } from "@/server/commands";
import { runtime, type Runtime } from "@/server/runtime";

const MAX_BODY = 64 * 1024;
const noStore = { "cache-control": "no-store" };

function answer(body: unknown, status: number, extra: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { ...noStore, ...extra } });
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
  return r.ok ? answer(r, okStatus, extra) : answer(r, httpStatus(r.code));
}

export async function handleStartRollout(request: Request, rt: Runtime = runtime()): Promise<Response> {
  // Authenticate before reading anything; the role is the pipeline's to check.
  const auth = requireBearer(request, "read", ensureAuthSchema(rt.store.db));
  if (!auth.ok) return authFailureResponse(auth);
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const r = await runCommand(rt, auth.operator, { type: "start-rollout", input: body.body });
  return result(r, 201, r.ok ? { location: `/api/rollouts/${encodeURIComponent(r.data.id)}` } : {});
}

/**
 * The route handler itself: `export { startRolloutRoute as POST } from "@/server/api/rollout-commands"`.
 * Not `handleStartRollout` directly: Next passes the route context as the second argument.
 */
export function startRolloutRoute(request: Request): Promise<Response> {
  return handleStartRollout(request);
}

export async function handleRolloutEvent(request: Request, ctx: { params: Promise<{ id: string }> }, rt: Runtime = runtime()): Promise<Response> {
  const { id } = await ctx.params;
  // Authenticate before reading anything (no rollout ids leak to strangers); the action is checked per event.
  const auth = requireBearer(request, "read", ensureAuthSchema(rt.store.db));
  if (!auth.ok) return authFailureResponse(auth);
  const body = await readJson(request);
  if (!body.ok) return body.response;
  return result(await runCommand(rt, auth.operator, { type: "operator-event", rolloutId: id, event: body.body }), 200);
}

/** POST (freeze) and DELETE (lift) /api/load-balancers/{lb}/freeze, bearer tokens only, role admin. */
export async function handleFreeze(request: Request, ctx: { params: Promise<{ name: string }> }, rt: Runtime = runtime()): Promise<Response> {
  const { name } = await ctx.params;
  const auth = requireBearer(request, "read", ensureAuthSchema(rt.store.db));
  if (!auth.ok) return authFailureResponse(auth);
  if (request.method === "DELETE") return result(await runCommand(rt, auth.operator, { type: "lift-freeze", input: { lb: name } }), 200);
  const body = await readJson(request);
  if (!body.ok) return body.response;
  const input = typeof body.body === "object" && body.body !== null && !Array.isArray(body.body) ? { ...(body.body as Record<string, unknown>), lb: name } : body.body;
  return result(await runCommand(rt, auth.operator, { type: "freeze-lb", input }), 201);
}
