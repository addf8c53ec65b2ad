import { signalSchema, signalsTopic } from '@gw/topics';
import { runSourceConformance } from '@gw/source-testing';
import { createCryptoSignalsSource, cryptoSignalsSource } from './index.js';
import { serverErrorAnswer, startFakeBybit } from './testing/fake-bybit.js';

const schemas = { [signalsTopic]: signalSchema };

// mode=simulated: 10 ms bars and 2/3-bar averages cross every few bars; the bus is the only upstream.
runSourceConformance('crypto-signals (simulated market)', () => ({
  source: cryptoSignalsSource,
  env: {
    CRYPTO_SIGNALS_SIM_BAR_MS: '10',
    CRYPTO_SIGNALS_FAST: '2',
    CRYPTO_SIGNALS_SLOW: '3',
    CRYPTO_SIGNALS_BACKOFF_MS: '10',
    CRYPTO_SIGNALS_BACKOFF_MAX_MS: '100',
  },
  schemas,
}));

/** Closes swinging ±500 around 70 000 with a 12-bar period: the 2/4-bar averages cross every 6 bars or so. */
function swinging(bars: number): number[] {
  return Array.from({ length: bars }, (_, i) => Math.round(70_000 + 500 * Math.sin((2 * Math.PI * i) / 12)));
}

// mode=ccxt: ccxt's real bybit class against the local fake Bybit, which reveals one more closed bar per kline
// answer (the market moving on); its upstream fails by answering every request with an HTML 500 page.
runSourceConformance(
  'crypto-signals (ccxt bybit, fake exchange)',
  async () => {
    const down = { value: false };
    const fake = await startFakeBybit({
      series: { BTCUSDT: swinging(3_000) },
      initialBars: 40,
      barsPerRequest: 1,
      intercept: () => (down.value ? serverErrorAnswer() : undefined),
    });
    return {
      source: createCryptoSignalsSource({ apiBaseUrl: fake.url }),
      env: {
        CRYPTO_SIGNALS_MODE: 'ccxt',
        CRYPTO_SIGNALS_SYMBOLS: 'BTCUSDT',
        CRYPTO_SIGNALS_POLL_MS: '100',
        CRYPTO_SIGNALS_FAST: '2',
        CRYPTO_SIGNALS_SLOW: '4',
        CRYPTO_SIGNALS_BACKOFF_MS: '50',
        CRYPTO_SIGNALS_BACKOFF_MAX_MS: '400',
      },
      schemas,
      upstream: {
        fail: () => {
          down.value = true;
        },
        recover: () => {
          down.value = false;
        },
      },
      close: () => fake.close(),
    };
  },
  { upstream: 'the fake Bybit answers every request with HTTP 500' },
);
