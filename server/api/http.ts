/**
 * JSON responses for the read API, and the one place where a thrown error becomes an HTTP status
 * with a readable message (never a stack trace).
 */
import { httpStatus } from "@/lib/result";
import { asProviderError } from "@/server/providers/types";
import { componentLog } from "@/server/log";

export class NotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotFound";
  }
}

const noStore = { "cache-control": "no-store" };

export function json(data: unknown, status = 200): Response {
  return Response.json(data, { status, headers: noStore });
}

export function errorResponse(err: unknown, what: string): Response {
  if (err instanceof NotFound) return json({ code: "NOT_FOUND", message: err.message }, 404);
  const provider = asProviderError(err);
  // CONFIG 500, AUTH 502, UNAVAILABLE/THROTTLED 503, TIMEOUT 504, NOT_FOUND 404 (lib/result.ts).
  if (provider) return json({ code: provider.code, message: provider.message }, httpStatus(provider.code));
  componentLog("api").error({ err }, `${what} failed`);
  return json({ code: "INTERNAL", message: `${what} failed: ${err instanceof Error ? err.message : String(err)}` }, 500);
}

/** Runs a read and answers with its JSON, or with the error's status. */
export async function respond(what: string, read: () => Promise<unknown>): Promise<Response> {
  try {
    return json(await read());
  } catch (err) {
    return errorResponse(err, what);
  }
}
