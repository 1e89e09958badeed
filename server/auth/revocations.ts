/**
 * "Some credential was just revoked": sign-out, an operator's sessions ended, an operator disabled,
 * a token revoked. Long-lived connections (the live-update stream) listen and re-check their own
 * credential at once instead of waiting for their periodic check. One process, in memory.
 */
type Listener = () => void;

const listeners = new Set<Listener>();

export function onRevocation(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function announceRevocation(): void {
  for (const l of [...listeners]) {
    try {
      l();
    } catch {
      // a listener's failure is its own; the revocation stands
    }
  }
}
