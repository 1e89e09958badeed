/**
 * Password hashing with node:crypto scrypt: a random 16-byte salt per hash, the cost parameters
 * kept in the hash so they can be raised later, and a timing-safe compare.
 *
 * Format: `scrypt$<N>$<r>$<p>$<salt base64url>$<key base64url>`.
 */
import { randomBytes, scrypt as scryptCb, scryptSync, timingSafeEqual, type ScryptOptions } from "node:crypto";

const KEY_LEN = 32;
export const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 } as const;

function scrypt(password: string, salt: Buffer, opts: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...opts, maxmem: 256 * opts.N * opts.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize("NFKC"), salt, KEY_LEN, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string, cost: { N: number; r: number; p: number } = DEFAULT_COST): Promise<string> {
  if (password.length === 0) throw new Error("refusing to hash an empty password");
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, cost);
  return ["scrypt", cost.N, cost.r, cost.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

/** The same hash, synchronously: for configuration files that cannot await (playwright.config.ts). */
export function hashPasswordSync(password: string, cost: { N: number; r: number; p: number } = DEFAULT_COST): string {
  if (password.length === 0) throw new Error("refusing to hash an empty password");
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize("NFKC"), salt, KEY_LEN, { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 });
  return ["scrypt", cost.N, cost.r, cost.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): Parsed | null {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] ?? "", "base64url");
  const key = Buffer.from(parts[5] ?? "", "base64url");
  const pow2 = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!pow2 || N > 2 ** 20 || !Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return null;
  if (salt.length < 8 || key.length !== KEY_LEN) return null;
  return { N, r, p, salt, key };
}

/** Whether `stored` is a hash this module can verify (used to validate configuration). */
export function isPasswordHash(stored: string): boolean {
  return parse(stored) !== null;
}

/** A hash of a random password: verified against when the account does not exist, so timing does not tell. */
let decoy: Promise<string> | null = null;
function decoyHash(): Promise<string> {
  return (decoy ??= hashPassword(randomBytes(18).toString("base64url")));
}

/**
 * Whether `password` matches `stored`. With `stored` null (no such account) the work is done
 * anyway against a decoy, and the answer is false.
 */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parsed = parse(stored ?? (await decoyHash()));
  if (!parsed) return false;
  const key = await scrypt(password, parsed.salt, parsed);
  return stored !== null && key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}
