/** Which credential a long-lived request rides on: a digest of its bearer token or session cookie. */
import { bearerToken } from "./guard";
import { readCookie } from "./http";
import { digest } from "./secrets";
import { SESSION_COOKIE } from "./sessions";

export function streamCredential(req: Request): string {
  const bearer = req.headers.has("authorization") ? bearerToken(req) : null;
  return bearer ? `token:${digest(bearer)}` : `session:${digest(readCookie(req.headers, SESSION_COOKIE) ?? "")}`;
}
