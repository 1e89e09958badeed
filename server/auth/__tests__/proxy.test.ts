import { describe, expect, it } from "vitest";
import { needsSignIn } from "../proxy";

const live = (t: string | undefined) => t === "good";
const req = (path: string, init: RequestInit = {}) => new Request(`http://127.0.0.1:3000${path}`, init);

describe("sign-in redirect (proxy)", () => {
  it("sends page navigation without a live session to sign-in", () => {
    expect(needsSignIn(req("/rollouts"), live)).toBe(true);
    expect(needsSignIn(req("/rollouts", { headers: { cookie: "rotor_session=expired" } }), live)).toBe(true);
    expect(needsSignIn(req("/rollouts", { headers: { cookie: "rotor_session=good" } }), live)).toBe(false);
  });

  it("leaves the sign-in page, APIs, assets and server-action posts alone (they answer for themselves)", () => {
    for (const p of ["/sign-in", "/sign-in?next=/x", "/api/rollouts", "/api/auth/sign-in", "/_next/static/chunk.js", "/favicon.ico"]) expect(needsSignIn(req(p), live)).toBe(false);
    expect(needsSignIn(req("/rollouts/new", { method: "POST", headers: { "next-action": "abc" } }), live)).toBe(false);
  });
});
