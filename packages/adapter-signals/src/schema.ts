import { z } from 'zod';
import { signalContentSchema } from '@gw/topics';

/**
 * Wire messages of the signal protocol (the legacy signal service's plus the contract's additions). Outbound frames are built by
 * `frames.ts`; these schemas type them and are checked against real frames in the tests (never on the hot path).
 */

/** A signal as the client receives it. `id` is absent on test signals (they are not in history). */
export const signalFrameSchema = z.object({
  type: z.enum(['buy', 'sell']),
  content: signalContentSchema,
  is_test: z.boolean(),
  id: z.string().optional(),
});

export const errorFrameSchema = z.object({
  type: z.literal('error'),
  error: z.string(),
  message: z.string(),
  /** The specific reason (a refused token refresh: `bad_signature: ...`); the message again otherwise. */
  details: z.string(),
  /** When the server sent it, unix seconds (as a signal's `content.timestamp`). */
  timestamp: z.number(),
});

/** In-band token refresh (the same frames as the stock protocol's; built by the connection pipeline). */
export const refreshTokenFrameSchema = z.object({ type: z.literal('refresh_token'), token: z.string() });
export const tokenRefreshedFrameSchema = z.object({ type: z.literal('token_refreshed'), expires_at: z.number().int().nullable() });
export const tokenExpiringFrameSchema = z.object({ type: z.literal('token_expiring'), expires_in: z.number().int().nonnegative() });

export const recoveryFrameSchema = z.union([
  z.object({ type: z.literal('recovery'), recovered: z.literal(true), replayed: z.number().int().nonnegative(), position: z.string().optional() }),
  z.object({
    type: z.literal('recovery'),
    recovered: z.literal(false),
    reason: z.string(),
    missed_from: z.string().nullable(),
    replayed: z.number().int().nonnegative(),
  }),
]);

export type SignalFrame = z.infer<typeof signalFrameSchema>;
export type ErrorFrame = z.infer<typeof errorFrameSchema>;
export type RecoveryFrame = z.infer<typeof recoveryFrameSchema>;

/** Symbols as exchanges write pairs: upper-case letters and digits. */
export const symbolSchema = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .pipe(z.string().regex(/^[A-Z0-9]{1,32}$/, { error: 'expected letters and digits, at most 32 (e.g. BTCUSDT)' }));

/** `POST /api/signals` body. `timestamp` defaults to now (unix seconds). */
export const publishSignalBodySchema = z.object({
  type: z.enum(['buy', 'sell'], { error: 'expected "buy" or "sell"' }),
  content: z.object({
    symbol: symbolSchema,
    price: z.number({ error: 'expected a number' }).positive({ error: 'expected a positive number' }),
    timestamp: z
      .number({ error: 'expected unix seconds' })
      .int({ error: 'expected whole unix seconds' })
      .nonnegative({ error: 'expected unix seconds' })
      .optional(),
  }),
});

export type PublishSignalBody = z.infer<typeof publishSignalBodySchema>;
