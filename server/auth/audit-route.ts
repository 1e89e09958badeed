/**
 * `GET /api/audit?format=jsonl|csv|json&actor=&rollout=&type=&outcome=&kind=&from=&to=&limit=`
 *
 * A read: allowed to a viewer, by session cookie (the audit page's export links) or by bearer token
 * (a script). Being a GET that changes nothing, the cookie is fine here; other sites cannot read
 * the answer (no CORS headers). Exports hold at most 100,000 rows (`limit`, default 100,000).
 */
import { authDb } from "./db";
import { auditRows, parseAuditQuery, toCsv, toJsonLines } from "./audit";
import { authFailureResponse, authorizeSession, requireBearer, type AuthResult } from "./guard";
import { readCookie } from "./http";
import { SESSION_COOKIE } from "./sessions";

export function requireReader(request: Request): AuthResult {
  const db = authDb();
  if (request.headers.has("authorization")) return requireBearer(request, "read", db);
  return authorizeSession(db, readCookie(request.headers, SESSION_COOKIE), "read", Date.now(), `${request.method} ${new URL(request.url).pathname}`);
}

export function handleAuditExport(request: Request): Response {
  const auth = requireReader(request);
  if (!auth.ok) return authFailureResponse(auth);
  const url = new URL(request.url);
  const format = url.searchParams.get("format") ?? "jsonl";
  if (!["jsonl", "csv", "json"].includes(format)) {
    return Response.json({ ok: false, code: "INVALID_INPUT", message: "format is jsonl, csv or json" }, { status: 400 });
  }
  if (!url.searchParams.has("limit")) url.searchParams.set("limit", "100000");
  const q = parseAuditQuery(url.searchParams);
  if (!q.success) {
    const issue = q.error.issues[0];
    return Response.json({ ok: false, code: "INVALID_INPUT", message: `${issue?.path.join(".") ?? "query"}: ${issue?.message ?? "invalid"}` }, { status: 400 });
  }
  const { offset, limit, ...filter } = q.data;
  const rows = auditRows(authDb(), filter, { offset, limit });
  const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
  const headers = { "cache-control": "no-store", "x-content-type-options": "nosniff" };
  if (format === "json") return Response.json({ ok: true, data: rows }, { headers });
  const csv = format === "csv";
  return new Response(csv ? toCsv(rows) : toJsonLines(rows), {
    headers: {
      ...headers,
      "content-type": csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      "content-disposition": `attachment; filename="rotor-audit-${stamp}.${csv ? "csv" : "jsonl"}"`,
    },
  });
}
