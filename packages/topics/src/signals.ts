import { z } from 'zod';
import { defineConfigSection, envInt } from '@gw/config';
import type { SectionOutput } from '@gw/config';

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
 * How much signal history the bus keeps (for `?since=` recovery), section `signal-history`. Every producer
 * (crypto-signals, volume_wave, the publish API) appends with the same bounds, so the bounds have one owner
 * here and each producer's section `uses` it: `uses: { signalHistory: signalHistoryConfig }`.
 */
export const signalHistoryConfig = defineConfigSection({
  name: 'signal-history',
  schema: z.object({
    size: envInt(1, 1_000_000).default(1_000),
    maxAgeMs: envInt(1_000, 604_800_000).default(86_400_000),
  }),
  env: {
    SIGNAL_HISTORY_SIZE: 'size',
    SIGNAL_HISTORY_MAX_AGE_MS: 'maxAgeMs',
  },
  docs: {
    size: 'Signals kept on the signals topic for ?since= recovery (one bound for every signal producer).',
    maxAgeMs: 'Oldest signal kept on the signals topic for ?since= recovery, in milliseconds.',
  },
});

export type SignalHistoryConfig = SectionOutput<typeof signalHistoryConfig>;

/** The bus HistoryOptions for the signals topic, from a parsed section that uses `signalHistoryConfig`. */
export function signalHistoryOptions(config: { signalHistory: SignalHistoryConfig }): {
  maxLength: number;
  maxAgeMs: number;
} {
  return { maxLength: config.signalHistory.size, maxAgeMs: config.signalHistory.maxAgeMs };
}
