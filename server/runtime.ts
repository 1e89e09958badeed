/**
 * The composition root: the one place a process builds its parts — store, journals, bus, provider,
 * fleet monitor, engine — and hands them down. Route handlers, server actions and pages reach them
 * through `runtime()`; the headless engine, the CLI, benchmarks and tests call `createRuntime` with
 * their own options (a data dir, a provider of their own) and pass the result on.
 *
 *   runtime() ─┬─ store (SQLite or PostgreSQL, append-only log) ── journals (state + read models per rollout)
 *              ├─ bus (appended events, fleet changes) ── engine wakes, live stream tells browsers
 *              ├─ provider (local fleet | AWS) ── monitor (one poll loop per load balancer)
 *              ├─ engine (started by instrumentation.ts in the dashboard's server process)
 *              └─ notifier (started with the engine: appended events → signed webhook deliveries)
 *
 * The provider is built on first use, so a bad provider configuration shows in the dashboard as a
 * sentence instead of stopping it.
 */
import { newSignInLimits, type SignInLimits } from "./auth/rate-limit";
import { ChangeBus } from "./bus";
import { analysisDefaults, type AnalysisDefaults } from "./analysis-settings";
import { Engine } from "./engine/core";
import type { RetryPolicy } from "./engine/retry";
import { componentLog } from "./log";
import { FleetMonitor, type MonitorIntervals } from "./monitor";
import { Notifier, type NotifierOptions } from "./notify/notifier";
import { secretsKey } from "./auth/secrets";
import { createProvider } from "./providers";
import type { LoadBalancerProvider } from "./providers/types";
import { RotorStore } from "./store";
import { resolveDataDir, storeLocation } from "./store/db";
import { heldOutOfRotation } from "./store/held";
import { Journals } from "./store/journal";
import { leaseSettings } from "./store/leases";
import { PgSyncDb } from "./store/pg/sync";

type Env = Record<string, string | undefined>;

export interface RuntimeOptions {
  /** Default ROTOR_DATA_DIR, else `.rotor`. */
  dataDir?: string;
  env?: Env;
  /** A provider of the caller's own (tests, the e2e fixture); default: the configured one. */
  provider?: LoadBalancerProvider;
  monitorIntervals?: Partial<MonitorIntervals>;
  engine?: {
    pollMs?: number;
    retry?: RetryPolicy;
    /** Auto mode: pause a batch when traffic failures rise by this many (0 = off). */
    autoPauseFailures?: number;
  };
  /** Webhook delivery: retry bounds, poll interval, the links' base URL (default from the environment). */
  notify?: Partial<NotifierOptions>;
  /** Batch analysis defaults (default from ROTOR_ANALYSIS_WINDOW_SEC and ROTOR_ANALYSIS_ALARMS). */
  analysis?: Partial<AnalysisDefaults>;
}

export class Runtime {
  readonly dataDir: string;
  readonly bus = new ChangeBus();
  readonly store: RotorStore;
  readonly journals: Journals;
  /** Failed sign-ins per account and per client address, kept in the store (shared by replicas). */
  readonly signInLimits: SignInLimits = newSignInLimits(() => this.store.db);
  /** Parts built on first use by the room that owns them (the live-stream hub, OIDC discovery), one per runtime. */
  readonly parts = new Map<string, unknown>();
  private providerValue: LoadBalancerProvider | null;
  private monitorValue: FleetMonitor | null = null;
  private engineValue: Engine | null = null;
  private notifierValue: Notifier | null = null;
  private keyValue: Buffer | null = null;

  constructor(private readonly options: RuntimeOptions = {}) {
    const env = options.env ?? process.env;
    this.dataDir = resolveDataDir(options.dataDir ?? env.ROTOR_DATA_DIR);
    this.store = new RotorStore(storeLocation(env, this.dataDir));
    this.journals = new Journals(this.store, this.bus);
    this.providerValue = options.provider ?? null;
    if (this.store.db instanceof PgSyncDb) {
      this.relayStoreEvents(this.store.db);
      if (!env.ROTOR_SECRETS_KEY) {
        componentLog("store").warn(
          "ROTOR_DATABASE_URL is set without ROTOR_SECRETS_KEY: webhook secrets are sealed with this data dir's notify.key, so another replica cannot send the webhooks added here; give every replica the same ROTOR_SECRETS_KEY (openssl rand -base64 32)",
        );
      }
    }
  }

  /**
   * PostgreSQL: every replica hears of every appended event (NOTIFY at commit, server/store/pg
   * migration 201) and tells this process's bus, so its engine and its browsers' live streams see
   * another replica's appends as fast as their own. After the listening connection was re-established
   * (notices may have been missed) every active rollout is announced once.
   */
  private relayStoreEvents(db: PgSyncDb): void {
    const lbOf = new Map<string, string>();
    const announce = (rolloutId: string) => {
      let lb = lbOf.get(rolloutId);
      if (lb === undefined) {
        lb = this.store.rollout(rolloutId)?.lb;
        if (lb === undefined) return;
        lbOf.set(rolloutId, lb);
      }
      this.bus.emit({ rolloutId, lb, kind: "event" });
    };
    db.listen("rotor_events", (payload) => {
      try {
        if (payload === null) {
          for (const id of this.store.activeRolloutIds()) announce(id);
          return;
        }
        const notice = JSON.parse(payload) as { rolloutId?: unknown };
        if (typeof notice.rolloutId === "string") announce(notice.rolloutId);
      } catch (err) {
        componentLog("store").warn({ err }, "could not relay a store notice");
      }
    });
  }

  /** The provider; throws ProviderError("CONFIG") with a readable message when misconfigured. */
  get provider(): LoadBalancerProvider {
    this.providerValue ??= createProvider(this.options.env ?? process.env);
    return this.providerValue;
  }

  get monitor(): FleetMonitor {
    this.monitorValue ??= new FleetMonitor(this.provider, this.options.monitorIntervals, this.bus, heldOutOfRotation(this.store, this.journals));
    return this.monitorValue;
  }

  /** The key that seals secrets Rotor must use again (webhook URLs and secrets): ROTOR_SECRETS_KEY, else the data dir's notify.key. */
  get secretsKey(): Buffer {
    this.keyValue ??= secretsKey(this.dataDir, this.options.env ?? process.env);
    return this.keyValue;
  }

  /** Webhook notifications of rollout events; runs once started (with the engine). */
  get notifier(): Notifier {
    this.notifierValue ??= new Notifier(this.store, this.secretsKey, this.bus, { env: this.options.env ?? process.env, ...this.options.notify });
    return this.notifierValue;
  }

  /** The window a rollout's batch analysis gets when it names none, and each load balancer's alarms. */
  get analysisDefaults(): AnalysisDefaults {
    return { ...analysisDefaults(this.options.env ?? process.env), ...this.options.analysis };
  }

  /** The engine, once started in this process. */
  get engine(): Engine | null {
    return this.engineValue;
  }

  /** Starts the engine once (it drives the active rollouts whose leases it gets). */
  startEngine(): Engine {
    if (this.engineValue) return this.engineValue;
    const env = this.options.env ?? process.env;
    const engine = new Engine({
      store: this.store,
      journals: this.journals,
      bus: this.bus,
      provider: this.provider,
      monitor: this.monitor,
      pollMs: this.options.engine?.pollMs,
      retry: this.options.engine?.retry,
      autoPauseFailures: this.options.engine?.autoPauseFailures ?? Number(env.ROTOR_AUTO_PAUSE_FAILURES ?? 5),
      lease: leaseSettings(env),
    });
    this.engineValue = engine;
    engine.start();
    // Beside the engine, not inside it: a slow receiver never holds up a step. Every process that runs
    // an engine (even one standing by) also sends notifications; the outbox's claims keep them from
    // sending the same delivery twice at once.
    this.notifier.start();
    process.once("exit", () => engine.recordExit());
    componentLog("engine").info({ dataDir: this.dataDir, provider: this.provider.name }, "engine started");
    return engine;
  }

  /** Stops the notifier, the engine, the monitor and the provider, and closes the store. */
  async close(): Promise<void> {
    await this.notifierValue?.stop();
    this.notifierValue = null;
    await this.engineValue?.stop();
    this.engineValue = null;
    this.monitorValue?.stop();
    this.monitorValue = null;
    await this.providerValue?.close?.();
    this.store.close();
  }
}

export function createRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(options);
}

// The one global slot: Next's dev server reloads modules, and a second runtime would mean a second
// engine and a second database connection in the same process.
const slot = globalThis as unknown as { __rotorRuntime?: Runtime };

/** The dashboard process's runtime, built on first use from the environment. */
export function runtime(): Runtime {
  slot.__rotorRuntime ??= createRuntime();
  return slot.__rotorRuntime;
}

/** Tests: make `rt` the process runtime; null forgets it (the next `runtime()` builds one from the environment). */
export function setRuntime(rt: Runtime | null): void {
  slot.__rotorRuntime = rt ?? undefined;
}
