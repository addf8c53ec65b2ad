import { z } from 'zod';
import { defineConfigSection, envInt, envList } from '@gw/config';
import { signalHistoryConfig } from '@gw/topics';

/** The pairs signalled when CRYPTO_SIGNALS_SYMBOLS is not set. */
export const defaultCryptoSymbols = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT'] as const;

const symbolsError = 'expected a comma-separated list of pair ids like BTCUSDT (letters and digits)';

/**
 * The `crypto-signals` configuration section (keyed by the source name, as every source's is). Defaults live in
 * the schema; `fast < slow` is checked here so a bad pair fails at startup, named by variable.
 */
export const cryptoSignalsConfig = defineConfigSection({
  name: 'crypto-signals',
  schema: z
    .object({
      mode: z.enum(['simulated', 'ccxt'], { error: 'expected simulated or ccxt' }).default('simulated'),
      exchange: z
        .string()
        .regex(/^[a-z][a-z0-9]*$/, { error: 'expected a ccxt exchange id such as bybit or binance' })
        .default('bybit'),
      marketType: z.enum(['spot', 'linear'], { error: 'expected spot or linear' }).default('spot'),
      symbols: envList()
        .transform((list) => [...new Set(list.map((symbol) => symbol.toUpperCase()))])
        .pipe(z.array(z.string().regex(/^[A-Z0-9]{2,32}$/, { error: symbolsError })).min(1, { error: symbolsError }))
        .default([...defaultCryptoSymbols]),
      fast: envInt(1, 500).default(5),
      slow: envInt(2, 1_000).default(20),
      pollMs: envInt(100, 3_600_000).default(10_000),
      simBarMs: envInt(10, 3_600_000).default(5_000),
      simSeed: envInt(0, 2_147_483_647).default(1),
      backoffMs: envInt(10, 600_000).default(1_000),
      backoffMaxMs: envInt(10, 3_600_000).default(60_000),
      symbolRetryMs: envInt(1_000, 86_400_000).default(600_000),
      stream: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
      streamMaxFailures: envInt(1, 100).default(3),
    })
    .check((ctx) => {
      if (ctx.value.fast >= ctx.value.slow) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value.fast,
          path: ['fast'],
          message: `expected CRYPTO_SIGNALS_FAST smaller than CRYPTO_SIGNALS_SLOW (${ctx.value.slow})`,
        });
      }
      if (ctx.value.backoffMs > ctx.value.backoffMaxMs) {
        ctx.issues.push({
          code: 'custom',
          input: ctx.value.backoffMs,
          path: ['backoffMs'],
          message: `expected at most CRYPTO_SIGNALS_BACKOFF_MAX_MS (${ctx.value.backoffMaxMs})`,
        });
      }
    }),
  env: {
    CRYPTO_SIGNALS_MODE: 'mode',
    CRYPTO_SIGNALS_EXCHANGE: 'exchange',
    CRYPTO_SIGNALS_MARKET_TYPE: 'marketType',
    CRYPTO_SIGNALS_SYMBOLS: 'symbols',
    CRYPTO_SIGNALS_FAST: 'fast',
    CRYPTO_SIGNALS_SLOW: 'slow',
    CRYPTO_SIGNALS_POLL_MS: 'pollMs',
    CRYPTO_SIGNALS_SIM_BAR_MS: 'simBarMs',
    CRYPTO_SIGNALS_SIM_SEED: 'simSeed',
    CRYPTO_SIGNALS_BACKOFF_MS: 'backoffMs',
    CRYPTO_SIGNALS_BACKOFF_MAX_MS: 'backoffMaxMs',
    CRYPTO_SIGNALS_SYMBOL_RETRY_MS: 'symbolRetryMs',
    CRYPTO_SIGNALS_STREAM: 'stream',
    CRYPTO_SIGNALS_STREAM_MAX_FAILURES: 'streamMaxFailures',
  },
  uses: { signalHistory: signalHistoryConfig },
  docs: {
    mode: 'simulated (seeded random walk, no network) or ccxt (public 1-minute OHLCV from a real exchange).',
    exchange: 'ccxt exchange id for mode=ccxt.',
    marketType: 'spot (BTCUSDT = BTC/USDT) or linear (BTCUSDT = BTC/USDT:USDT perpetual), mode=ccxt.',
    symbols: 'Comma-separated pairs to signal, exchange spelling without separator.',
    fast: 'Bars in the fast simple moving average (must be smaller than CRYPTO_SIGNALS_SLOW).',
    slow: 'Bars in the slow simple moving average.',
    pollMs: 'mode=ccxt: delay between rounds of fetchOHLCV polls.',
    simBarMs: 'mode=simulated: length of one simulated 1-minute bar in ms (short, so signals show up while developing).',
    simSeed: 'mode=simulated: seed of the random walk (same seed, same prices).',
    backoffMs: 'First delay after a network or rate-limit error; doubles per failed round.',
    backoffMaxMs: 'Cap of that delay.',
    symbolRetryMs: 'How long a symbol the exchange refuses (unknown symbol, bad request) is left out.',
    stream: 'mode=ccxt: on (default) follows the exchange\'s public kline stream (ccxt pro watchOHLCV) when it has one, so a crossover is signalled when its bar closes; polling at CRYPTO_SIGNALS_POLL_MS is the fallback. off: poll only.',
    streamMaxFailures: 'Stream failures in a row before the source polls until the stream works again (retried with the backoff above; default 3).',
  },
});
