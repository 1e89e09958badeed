/** Random bearer secrets and the one-way digest they are stored as; secrets Rotor must use again, sealed. */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensurePrivateDir, PRIVATE_FILE_MODE } from "@/server/store/files";

/** 256 random bits, base64url (43 characters), with an optional readable prefix. */
export function newSecret(prefix = ""): string {
  return prefix + randomBytes(32).toString("base64url");
}

/**
 * SHA-256, hex. Enough for 256-bit random secrets (nothing to brute-force, unlike passwords);
 * a stolen database yields no usable session or token.
 */
export function digest(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/**
 * Secrets Rotor must use again (a webhook's signing secret and URL) cannot be one-way digests: they
 * are sealed with AES-256-GCM under a key kept apart from the database — `ROTOR_SECRETS_KEY` (32
 * bytes, base64), else `notify.key` in the data dir, made 0600 on first use. A copied database alone
 * opens none of them; GCM's tag refuses a sealed value that was tampered with.
 */
export const SECRETS_KEY_FILE = "notify.key";

export function secretsKey(dataDir: string, env: Readonly<Record<string, string | undefined>> = process.env): Buffer {
  if (env.ROTOR_SECRETS_KEY) {
    const key = Buffer.from(env.ROTOR_SECRETS_KEY, "base64");
    if (key.length !== 32) throw new Error("ROTOR_SECRETS_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)");
    return key;
  }
  const file = path.join(dataDir, SECRETS_KEY_FILE);
  if (!existsSync(file)) {
    ensurePrivateDir(dataDir);
    // wx: of two processes making it at once, one writes and the other reads what it wrote.
    try {
      writeFileSync(file, randomBytes(32).toString("base64"), { mode: PRIVATE_FILE_MODE, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`could not create the secrets key ${file}`, { cause: err });
    }
  }
  const key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`the secrets key ${file} is not 32 bytes of base64`);
  return key;
}

export function sealSecret(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `v1:${Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64url")}`;
}

export function openSecret(key: Buffer, sealed: string): string {
  const raw = Buffer.from(sealed.replace(/^v1:/, ""), "base64url");
  if (!sealed.startsWith("v1:") || raw.length < 28) throw new Error("not a sealed secret");
  const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  } catch (cause) {
    throw new Error(
      "a sealed secret could not be opened: it was sealed under another key (another data dir's notify.key — replicas sharing a PostgreSQL store need the same ROTOR_SECRETS_KEY) or tampered with",
      { cause },
    );
  }
}
