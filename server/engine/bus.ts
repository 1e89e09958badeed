/**
 * In-process change notifier: fired on every appended event (with the rollout and its load balancer)
 * and on every monitor refresh that saw something new (with the load balancer). The dashboard's SSE
 * stream listens here and tells browsers which queries to invalidate.
 */
export interface Change {
  rolloutId?: string;
  lb?: string;
  /** What changed: an event was appended, or the fleet (instances, traffic, monitor error) changed. */
  kind?: "event" | "fleet";
}

type Listener = (c: Change) => void;

const g = globalThis as unknown as { __rotorBus?: Set<Listener> };
const listeners: Set<Listener> = (g.__rotorBus ??= new Set());

export function onChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

export function emitChange(c: Change): void {
  for (const l of [...listeners]) {
    try {
      l(c);
    } catch {
      // A listener's failure (a closed SSE stream) must not stop the others or the engine.
    }
  }
}
