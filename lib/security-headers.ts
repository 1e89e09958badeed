/**
 * The security headers of every response (pages, route handlers, error pages), applied in one place:
 * next.config.ts `headers()`. Pure data, so a test can read the same list the server sends.
 *
 * - CSP: everything from our own origin. `frame-ancestors 'none'` (and X-Frame-Options for older
 *   browsers) stops another page framing the dashboard to steer an operator's clicks. Next's App Router
 *   streams its payload in inline `<script>` tags, so script-src needs 'unsafe-inline' (nonces would
 *   force every page dynamic); `next dev` also evaluates code for fast refresh, hence 'unsafe-eval' in dev
 *   only. Styles: Tailwind's stylesheet plus `style=` attributes (bar widths), hence 'unsafe-inline'.
 * - HSTS only when the dashboard is reached over https (browsers ignore it over plain http anyway).
 */
export interface HeaderPair {
  key: string;
  value: string;
}

export function contentSecurityPolicy(options: { dev: boolean }): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${options.dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export function securityHeaders(options: { dev: boolean }): HeaderPair[] {
  return [
    { key: "Content-Security-Policy", value: contentSecurityPolicy(options) },
    { key: "X-Frame-Options", value: "DENY" },
    { key: "X-Content-Type-Options", value: "nosniff" },
    { key: "Referrer-Policy", value: "same-origin" },
  ];
}

/** Two years, subdomains included: the value hstspreload.org asks for, without opting into preload. */
export const HSTS: HeaderPair = { key: "Strict-Transport-Security", value: "max-age=63072000; includeSubDomains" };

/** True when the configured public URL (`ROTOR_PUBLIC_URL`) is https. */
export function servedOverHttps(publicUrl: string | undefined): boolean {
  try {
    return publicUrl !== undefined && new URL(publicUrl).protocol === "https:";
  } catch {
    return false;
  }
}
