/**
 * Page navigation without a live session goes to the sign-in page (phase 2: the root `proxy.ts`
 * re-exports this). Convenience only, never the guard: every server action, route handler and
 * admin page checks the session itself, so a request that slips past here (CVE-2025-29927 style)
 * still meets the real check. API routes and server-action posts are left to answer for
 * themselves (401 JSON / an UNAUTHENTICATED result), never redirected.
 */
import { readCookie } from "./http";
import { SESSION_COOKIE } from "./sessions";

const PUBLIC = [/^\/sign-in(\/|$)/, /^\/api\//, /^\/_next\//, /^\/favicon\.ico$/, /\.(png|svg|jpg|ico|css|js|txt|woff2?)$/];

export function needsSignIn(request: Request, hasLiveSession: (token: string | undefined) => boolean): boolean {
  const url = new URL(request.url);
  if (PUBLIC.some((p) => p.test(url.pathname))) return false;
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  if (request.headers.has("next-action")) return false;
  return !hasLiveSession(readCookie(request.headers, SESSION_COOKIE));
}

export async function authProxy(request: Request): Promise<Response | undefined> {
  const [{ authDb }, { sessionFor }] = await Promise.all([import("./db"), import("./guard")]);
  if (!needsSignIn(request, (t) => sessionFor(authDb(), t) !== null)) return undefined;
  const url = new URL(request.url);
  const to = new URL("/sign-in", url);
  to.searchParams.set("next", url.pathname + url.search);
  return Response.redirect(to, 307);
}
