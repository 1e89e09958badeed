/**
 * The dashboard's operator-event server action: a session first, then the command pipeline, which
 * checks the role and the two-person rule and keeps each refusal in the rollout's log.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { handleSignIn } from "@/server/auth/auth-routes";
import { driveToApproval, seedRollout, tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";

const jar = vi.hoisted(() => ({ value: undefined as string | undefined }));
vi.mock("next/headers", () => ({
  cookies: async () => ({ get: (name: string) => (name === "rotor_session" && jar.value ? { name, value: jar.value } : undefined) }),
}));
const { operatorEventAction } = await import("../rollout");

const operators = [
  { name: "alice", role: "operator" as const, password: "alice-password" },
  { name: "vera", role: "viewer" as const, password: "vera-password" },
];
let env: TempEnv;
beforeEach(async () => {
  env = await tempEnv(operators);
  // tempEnv gives each test a runtime of its own, sign-in limits included.
  jar.value = undefined;
});
afterEach(() => env.cleanup());

function signInRequest(body: unknown) {
  return new Request("http://127.0.0.1:3000/api/auth/sign-in", { method: "POST", headers: { "content-type": "application/json", host: "127.0.0.1:3000" }, body: JSON.stringify(body) });
}
function cookieOf(res: Response): string {
  return (res.headers.get("set-cookie") ?? "").match(/^rotor_session=([^;]*)/)?.[1] ?? "";
}

describe("the dashboard's operator-event action (session, then the command pipeline)", () => {
  it("needs a session, the role, and a second person where the rule is on", async () => {
    process.env.ROTOR_TWO_PERSON_LBS = "local";
    const id = seedRollout(env.store, { createdBy: "alice" });
    driveToApproval(env.store, id);
    const act = (type: string) => {
      const form = new FormData();
      form.set("rolloutId", id);
      form.set("type", type);
      return operatorEventAction(null, form);
    };
    expect(await act("approve")).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    jar.value = cookieOf(await handleSignIn(signInRequest({ name: "vera", password: "vera-password" })));
    expect(await act("approve")).toMatchObject({ ok: false, code: "FORBIDDEN" });
    jar.value = cookieOf(await handleSignIn(signInRequest({ name: "alice", password: "alice-password" })));
    expect(await act("approve")).toMatchObject({ ok: false, code: "TWO_PERSON_RULE" });
    expect(await act("pause")).toMatchObject({ ok: true });
    expect(env.store.events(id).filter((e) => e.outcome === "rejected").map((e) => [e.actor, e.reason?.split(":")[0]])).toEqual([
      ["vera", "FORBIDDEN"],
      ["alice", "TWO_PERSON_RULE"],
    ]);
  });
});
