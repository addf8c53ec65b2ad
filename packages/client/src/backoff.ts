/**
 * How long a client waits before each reconnection attempt: exponential from `initialDelayMs` to `maxDelayMs`
 * (the legacy signal service's advice: 1 s, doubling, at most 30 s), with jitter so that the clients of a gateway that restarts
 * do not all come back in the same millisecond.
 */
export interface ReconnectOptions {
  /** First wait after a connection is lost or an attempt fails. @default 1000 */
  initialDelayMs?: number;
  /** Longest wait. @default 30000 */
  maxDelayMs?: number;
  /** Growth factor per failed attempt. @default 2 */
  multiplier?: number;
  /**
   * Random extra wait as a fraction of the exponential delay: a wait is uniform in `[d, d × (1 + jitter)]`,
   * capped at `maxDelayMs`. 0 disables jitter (tests). @default 0.5
   */
  jitter?: number;
  /** Source of randomness in [0, 1). @default Math.random */
  random?: () => number;
}

export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/** The defaults of {@link ReconnectOptions}, filled in and checked (a bad value throws a `RangeError` at once). */
export function resolveReconnectOptions(options: ReconnectOptions = {}): ResolvedReconnectOptions {
  const resolved = {
    initialDelayMs: options.initialDelayMs ?? 1_000,
    maxDelayMs: options.maxDelayMs ?? 30_000,
    multiplier: options.multiplier ?? 2,
    jitter: options.jitter ?? 0.5,
    random: options.random ?? Math.random,
  };
  if (!(resolved.initialDelayMs > 0) || !Number.isFinite(resolved.initialDelayMs)) {
    throw new RangeError(`reconnect.initialDelayMs must be a positive number of milliseconds, got ${resolved.initialDelayMs}`);
  }
  if (!(resolved.maxDelayMs >= resolved.initialDelayMs) || !Number.isFinite(resolved.maxDelayMs)) {
    throw new RangeError(`reconnect.maxDelayMs must be at least initialDelayMs (${resolved.initialDelayMs}), got ${resolved.maxDelayMs}`);
  }
  if (!(resolved.multiplier >= 1)) {
    throw new RangeError(`reconnect.multiplier must be at least 1, got ${resolved.multiplier}`);
  }
  if (!(resolved.jitter >= 0 && resolved.jitter <= 1)) {
    throw new RangeError(`reconnect.jitter must be between 0 and 1, got ${resolved.jitter}`);
  }
  return resolved;
}

/**
 * The wait before attempt number `attempt` (0 for the first retry): `min(max, initial × multiplier^attempt)`
 * stretched by up to `jitter` of itself and capped at `max`. Always within `[initialDelayMs, maxDelayMs]`.
 */
export function reconnectDelay(attempt: number, options: ResolvedReconnectOptions): number {
  // Capping the exponent keeps the power finite however long a client has been retrying.
  const exponential = options.initialDelayMs * options.multiplier ** Math.min(attempt, 64);
  const base = Math.min(options.maxDelayMs, exponential);
  return Math.round(Math.min(options.maxDelayMs, base * (1 + options.jitter * options.random())));
}

/** Counts failed attempts between two successful connections and hands out the next wait. */
export class RetrySchedule {
  readonly #options: ResolvedReconnectOptions;
  #attempt = 0;

  constructor(options: ResolvedReconnectOptions) {
    this.#options = options;
  }

  /** Attempts made since the last successful connection. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The wait before the next attempt; each call counts one more failed attempt. */
  nextDelay(): number {
    const delay = reconnectDelay(this.#attempt, this.#options);
    this.#attempt += 1;
    return delay;
  }

  /** A connection succeeded: the next loss starts again from the initial delay. */
  reset(): void {
    this.#attempt = 0;
  }
}
