/** Reconnect delays, as the legacy signal service advised its clients: exponential from 1 s to 30 s, with jitter. */
export const RECONNECT_MIN_MS = 1_000;
export const RECONNECT_MAX_MS = 30_000;

/**
 * The wait before reconnect attempt `attempt` (0 for the first retry): the exponential step, capped at
 * {@link RECONNECT_MAX_MS}, of which a random half is kept ("equal jitter") so that pages reopened by the same
 * gateway restart do not all come back in the same millisecond. Always within [step / 2, step].
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const step = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.max(0, attempt));
  return Math.round(step / 2 + (step / 2) * random());
}
