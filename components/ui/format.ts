/** Small, locale-stable formatters: the same string on the server and in the browser. */

export function formatDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return "—";
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  const rem = Math.round(s % 60);
  if (m < 60) return `${m}m ${String(rem).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** `2026-12-01 07:04:09` in UTC, so that server and browser agree and logs line up. */
export function formatTime(at: number | null | undefined): string {
  if (at == null) return "—";
  return new Date(at).toISOString().replace("T", " ").slice(0, 19);
}

export function formatClock(at: number | null | undefined): string {
  if (at == null) return "—";
  return new Date(at).toISOString().slice(11, 19);
}

export function formatCount(n: number | null | undefined): string {
  if (n == null) return "—";
  return n.toLocaleString("en-US");
}

export function pluralize(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
