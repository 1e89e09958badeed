/**
 * The server's batch analysis defaults, from its environment: the window a rollout gets when it names
 * none, and the CloudWatch alarms configured per load balancer. Read by the composition root; the
 * start command (server/commands/analysis.ts) completes each rollout's request with them.
 */

export interface AnalysisDefaults {
  /** Used when the request names no window (ROTOR_ANALYSIS_WINDOW_SEC, 60 s unless set). */
  windowMs: number;
  /** Alarms configured for each load balancer (ROTOR_ANALYSIS_ALARMS), read with every rollout's own. */
  alarmsByLb: Record<string, string[]>;
}

/** `ROTOR_ANALYSIS_WINDOW_SEC` (default 60) and `ROTOR_ANALYSIS_ALARMS` ({"lb": ["alarm", …]}), checked. */
export function analysisDefaults(env: Record<string, string | undefined>): AnalysisDefaults {
  const raw = env.ROTOR_ANALYSIS_WINDOW_SEC?.trim();
  const sec = raw === undefined || raw === "" ? 60 : Number(raw);
  if (!Number.isInteger(sec) || sec < 0 || sec > 3600) throw new Error(`ROTOR_ANALYSIS_WINDOW_SEC must be a whole number of seconds from 0 to 3600, got ${JSON.stringify(raw)}`);
  const alarmsByLb: Record<string, string[]> = {};
  const text = env.ROTOR_ANALYSIS_ALARMS?.trim();
  if (text) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new Error('ROTOR_ANALYSIS_ALARMS must be JSON like {"web": ["web-5xx", "web-latency"]}', { cause });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error('ROTOR_ANALYSIS_ALARMS must be a JSON object like {"web": ["web-5xx"]}');
    for (const [lb, names] of Object.entries(parsed)) {
      if (!Array.isArray(names) || !names.every((n) => typeof n === "string" && n.trim() !== "")) throw new Error(`ROTOR_ANALYSIS_ALARMS: ${lb} must map to a list of alarm names`);
      alarmsByLb[lb] = names.map((n: string) => n.trim());
    }
  }
  return { windowMs: sec * 1000, alarmsByLb };
}
