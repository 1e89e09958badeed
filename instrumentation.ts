/**
 * Next's instrumentation hook: runs once when the server starts. The rollout engine lives in the
 * dashboard's Node process (never in the edge runtime), resuming unfinished rollouts at start-up.
 */
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    // The sign-in limit's client address: the TCP peer, stamped before Next sees the request.
    const { installPeerStamp } = await import("./server/auth/peer");
    installPeerStamp();
    const { runtime } = await import("./server/runtime");
    try {
      runtime().startEngine();
    } catch (err) {
      // A misconfigured provider must not take the dashboard down: it shows the configuration error.
      console.error("rotor: the rollout engine did not start:", err instanceof Error ? err.message : err);
    }
  }
}
