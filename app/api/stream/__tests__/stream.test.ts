/**
 * The live-update stream ends when its session does: at once on sign-out, and within the re-check
 * interval when a session is revoked behind its back. Streams are capped per session and in total.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GET } from "@/app/api/stream/route";
import { openStreamCount } from "@/server/api/stream";
import { authDb } from "@/server/auth/db";
import { createSession } from "@/server/auth/sessions";
import { signOut } from "@/server/auth/sign-in";
import { tempEnv, type TempEnv } from "@/server/auth/__tests__/helpers";

let env: TempEnv;
const aborts: AbortController[] = [];
beforeEach(async () => {
  env = await tempEnv([{ name: "alice", role: "viewer", password: "alice-password" }]);
});
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  delete process.env.ROTOR_STREAM_RECHECK_MS;
  delete process.env.ROTOR_STREAM_MAX;
  env.cleanup();
});

function open(token: string): Response {
  const ac = new AbortController();
  aborts.push(ac);
  return GET(new Request("http://127.0.0.1:3000/api/stream", { headers: { cookie: `rotor_session=${token}` }, signal: ac.signal }));
}

/** Reads until the stream ends; fails the test if it is still delivering after `ms`. */
async function endsWithin(res: Response, ms: number): Promise<string> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    const r = await Promise.race([reader.read(), new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), Math.max(0, left)))]);
    if (r === "timeout") throw new Error(`the stream was still open after ${ms} ms; got: ${text}`);
    if (r.done) return text;
    text += dec.decode(r.value);
  }
}

const session = () => createSession(authDb(), { name: "alice", role: "viewer", source: "local" }).token;

describe("/api/stream and the session behind it", () => {
  it("closes at once when its session signs out (no waiting for the periodic check)", async () => {
    process.env.ROTOR_STREAM_RECHECK_MS = "30000";
    const token = session();
    const res = open(token);
    expect(res.status).toBe(200);
    const ended = endsWithin(res, 3_000);
    expect(signOut(authDb(), token, "alice")).toBe(true);
    expect(await ended).toContain('"kind":"hello"');
    expect(openStreamCount()).toBe(0);
  });

  it("closes within the re-check interval when the session is revoked some other way", async () => {
    process.env.ROTOR_STREAM_RECHECK_MS = "50";
    const token = session();
    const res = open(token);
    const ended = endsWithin(res, 3_000);
    // Straight in the database: nothing announces it, only the periodic check can see it.
    authDb().prepare("UPDATE auth_sessions SET revoked_at = ?").run(Date.now());
    await ended;
  });

  it("keeps a live session's stream open across re-checks", async () => {
    process.env.ROTOR_STREAM_RECHECK_MS = "20";
    const res = open(session());
    await expect(endsWithin(res, 300)).rejects.toThrow(/still open/);
  });

  it("refuses an 11th stream for one session, and any beyond the total, with a 429 JSON error", async () => {
    process.env.ROTOR_STREAM_MAX = "12";
    const a = session();
    for (let i = 0; i < 10; i++) expect(open(a).status).toBe(200);
    const refused = open(a);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ ok: false, code: "TOO_MANY_STREAMS", message: expect.stringMatching(/at most 10/) });
    const b = session();
    expect(open(b).status).toBe(200);
    expect(open(b).status).toBe(200);
    const full = open(session());
    expect(full.status).toBe(429);
    expect(await full.json()).toMatchObject({ code: "TOO_MANY_STREAMS", message: expect.stringMatching(/maximum of 12/) });
  });

  it("answers 401 without a live session", async () => {
    expect(open("nope").status).toBe(401);
  });
});
