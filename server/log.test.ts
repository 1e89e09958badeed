import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "@/server/log";

function logged(obj: Record<string, unknown>): string {
  let out = "";
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  // The real logger, as the dashboard builds it: removing a redaction there fails this test.
  createLogger(sink, "info").info(obj, "line");
  return out;
}

describe("log redaction (server/log.ts)", () => {
  it("censors passwords, hashes, tokens, cookies, authorization headers and AWS credentials wherever they sit", () => {
    const secrets = {
      password: "pw-1",
      operator: { passwordHash: "scrypt$hash-2", password_hash: "hash-3" },
      req: { headers: { authorization: "Bearer tok-4", cookie: "rotor_session=sess-5", host: "127.0.0.1" } },
      res: { headers: { "set-cookie": "rotor_session=sess-6" } },
      oidc: { tokens: { id_token: "id-7", access_token: "acc-8", refresh_token: "ref-9" }, client_secret: "cs-10", code_verifier: "cv-11" },
      env: { AWS_SECRET_ACCESS_KEY: "aws-12", AWS_SESSION_TOKEN: "aws-13", ROTOR_OPERATORS: "[ops-14]", ROTOR_OIDC_CLIENT_SECRET: "cs-15" },
      aws: { credentials: { SecretAccessKey: "aws-16" }, SessionToken: "aws-17" },
      headers: { authorization: "Bearer tok-18", cookie: "c-19" },
    };
    const line = logged(secrets);
    for (const s of ["pw-1", "hash-2", "hash-3", "tok-4", "sess-5", "sess-6", "id-7", "acc-8", "ref-9", "cs-10", "cv-11", "aws-12", "aws-13", "ops-14", "cs-15", "aws-16", "aws-17", "tok-18", "c-19"]) {
      expect(line).not.toContain(s);
    }
    // Only the secrets go: the rest of the line stays.
    expect(JSON.parse(line)).toMatchObject({ msg: "line", req: { headers: { host: "127.0.0.1", authorization: "[redacted]" } } });
  });
});
