"use client";

import { useEffect, useState } from "react";

/** The current time, re-read every `everyMs` while `enabled` (for elapsed times and bake countdowns). */
export function useNow(everyMs = 1_000, enabled = true): number {
  // 0 until mounted, so that server and browser render the same first frame.
  const [now, setNow] = useState(0);
  useEffect(() => {
    if (!enabled) return;
    const tick = () => setNow(Date.now());
    const first = setTimeout(tick, 0);
    const t = setInterval(tick, everyMs);
    return () => {
      clearTimeout(first);
      clearInterval(t);
    };
  }, [everyMs, enabled]);
  return now;
}
