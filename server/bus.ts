/**
 * The process's change notifier: fired on every appended event (with the rollout and its load
 * balancer) and on every monitor refresh that saw something new (with the load balancer). The
 * engine wakes on it, and the live stream tells browsers which queries to refetch. Built once by the
 * runtime (server/runtime.ts) and handed to whoever emits or listens.
 */
export interface Change {
  rolloutId?: string;
  lb?: string;
  /** What changed: an event was appended, or the fleet (instances, traffic, monitor error) changed. */
  kind?: "event" | "fleet";
}

type Listener = (c: Change) => void;

export class ChangeBus {
  private readonly listeners = new Set<Listener>();

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(c: Change): void {
    for (const l of [...this.listeners]) {
      try {
        l(c);
      } catch {
        // A listener's failure (a closed SSE stream) must not stop the others or the engine.
      }
    }
  }
}
