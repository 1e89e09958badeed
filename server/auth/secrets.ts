/** Random bearer secrets and the one-way digest they are stored as. */
import { createHash, randomBytes } from "node:crypto";

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
