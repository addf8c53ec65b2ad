import { z } from 'zod';

/**
 * Trading signals: appended (with history) to one topic, so every signal has an ordered id and a client can
 * recover "everything after id X". Sources of any kind (crypto-signals, strategies, the publish API) append
 * here; the signal protocol adapter delivers them.
 */
export const signalsTopic = 'signals';

export const signalContentSchema = z.object({
  symbol: z.string().min(1).max(32),
  price: z.number().positive(),
  /** Unix seconds. */
  timestamp: z.number().int().nonnegative(),
});

export const signalSchema = z.object({
  type: z.enum(['buy', 'sell']),
  content: signalContentSchema,
  /** Which producer emitted it (`crypto-signals`, `volume_wave`, `api`); extra field, allowed by the contract. */
  source: z.string().min(1).max(64),
});

/** The payload on the `signals` topic (the envelope id becomes the wire `id`). */
export type Signal = z.infer<typeof signalSchema>;

/**
 * How much signal history the bus keeps (for `?since=` recovery). Every producer appends with the same bounds,
 * so the fields (and their environment variables) are shared: a producer spreads them into its own section.
 */
export const signalHistoryShape = {
  historySize: z.coerce
    .number({ error: 'expected a whole number from 1 to 1000000' })
    .int({ error: 'expected a whole number from 1 to 1000000' })
    .min(1, { error: 'expected a whole number from 1 to 1000000' })
    .max(1_000_000, { error: 'expected a whole number from 1 to 1000000' })
    .default(1_000),
  historyMaxAgeMs: z.coerce
    .number({ error: 'expected milliseconds from 1000 to 604800000' })
    .int({ error: 'expected milliseconds from 1000 to 604800000' })
    .min(1_000, { error: 'expected milliseconds from 1000 to 604800000' })
    .max(604_800_000, { error: 'expected milliseconds from 1000 to 604800000' })
    .default(86_400_000),
};

export const signalHistoryEnv = {
  SIGNAL_HISTORY_SIZE: 'historySize',
  SIGNAL_HISTORY_MAX_AGE_MS: 'historyMaxAgeMs',
} as const;

/** The bus HistoryOptions for the signals topic, from a parsed section that spread `signalHistoryShape`. */
export function signalHistoryOptions(config: { historySize: number; historyMaxAgeMs: number }): {
  maxLength: number;
  maxAgeMs: number;
} {
  return { maxLength: config.historySize, maxAgeMs: config.historyMaxAgeMs };
}
