/**
 * Signatures, both ways. Rotor signs each webhook delivery: HMAC-SHA256 with the target's secret over
 * `timestamp + "." + body`, sent as `X-Rotor-Signature: v1=<hex>` with `X-Rotor-Timestamp` (unix
 * seconds) and `X-Rotor-Delivery` (the delivery id, the same on every retry, so a receiver can
 * dedupe). Slack signs its requests to Rotor: `v0=` + HMAC-SHA256 with the app's signing secret
 * over `v0:<X-Slack-Request-Timestamp>:<raw body>`. Both compared in constant time.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const ROTOR_HEADERS = { timestamp: "X-Rotor-Timestamp", signature: "X-Rotor-Signature", delivery: "X-Rotor-Delivery" } as const;

export function rotorSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex")}`;
}

/** The headers of one delivery attempt. */
export function deliveryHeaders(deliveryId: string, secret: string, body: string, now = Date.now()): Record<string, string> {
  const ts = String(Math.floor(now / 1000));
  return {
    "content-type": "application/json",
    [ROTOR_HEADERS.timestamp]: ts,
    [ROTOR_HEADERS.signature]: rotorSignature(secret, ts, body),
    [ROTOR_HEADERS.delivery]: deliveryId,
  };
}

export function slackSignature(signingSecret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${rawBody}`, "utf8").digest("hex")}`;
}

/** Constant-time equality of two signatures (different lengths are unequal, without a timing hint about content). */
export function sameSignature(given: string, want: string): boolean {
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(want, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What a receiver does (and the tests): recompute and compare; refuse old timestamps. */
export function verifyRotorDelivery(secret: string, headers: { timestamp?: string | null; signature?: string | null }, body: string, now = Date.now(), toleranceS = 300): boolean {
  const ts = headers.timestamp ?? "";
  if (!/^\d+$/.test(ts) || Math.abs(now / 1000 - Number(ts)) > toleranceS) return false;
  return sameSignature(headers.signature ?? "", rotorSignature(secret, ts, body));
}
