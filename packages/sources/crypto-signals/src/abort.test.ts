import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '@gw/bus-memory';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { cryptoSignalsConfig, cryptoSignalsSource } from './index.js';
import { recordingMetrics } from './testing/harness.js';

describe('crypto-signals and the shared abort signal', () => {
  it('holds one abort listener however many symbols it polls, and none after it stopped', async () => {
    // Twelve symbols: one listener per symbol per round went past Node's limit of 10 (a warning at every start).
    const symbols = Array.from({ length: 12 }, (_, i) => `COIN${String(i)}USDT`).join(',');
    const config = loadConfig({ CRYPTO_SIGNALS_SYMBOLS: symbols, CRYPTO_SIGNALS_SIM_BAR_MS: '20' }, { cryptoSignals: cryptoSignalsConfig }).cryptoSignals;
    const bus = createMemoryBus();
    const recorded = recordingMetrics();
    const abort = new AbortController();
    const most: number[] = [];
    const done = cryptoSignalsSource.run({ config, bus, logger: createLogger({ level: 'silent' }), metrics: recorded.metrics }, abort.signal);
    await expect
      .poll(() => {
        most.push(getEventListeners(abort.signal, 'abort').length);
        return recorded.polls.length;
      }, { timeout: 10_000, interval: 1 })
      .toBeGreaterThanOrEqual(36);
    expect(Math.max(...most)).toBe(1);
    abort.abort();
    await done;
    expect(getEventListeners(abort.signal, 'abort')).toHaveLength(0);
    await bus.close();
  });
});
