import { z } from 'zod';
import { defineConfigSection, envInt } from '@gw/config';
import { signalHistoryConfig } from '@gw/topics';

/** Settings of the volume_wave strategy (section `volume-wave`); the rule is documented in `rule.ts`. */
export const volumeWaveConfig = defineConfigSection({
  name: 'volume-wave',
  schema: z.object({
    lookback: envInt(1, 1_000).default(20),
    volumeMultiple: z.coerce.number({ error: 'expected a number ≥ 1' }).min(1, { error: 'expected a number ≥ 1' }).default(2.5),
    holdBars: envInt(1, 10_000).default(20),
    maxStocks: envInt(1, 10_000).default(200),
    publishDelayMs: envInt(0, 10_000).default(100),
  }),
  env: {
    VOLUME_WAVE_LOOKBACK: 'lookback',
    VOLUME_WAVE_MULTIPLE: 'volumeMultiple',
    VOLUME_WAVE_HOLD_BARS: 'holdBars',
    VOLUME_WAVE_MAX_STOCKS: 'maxStocks',
    VOLUME_WAVE_PUBLISH_DELAY_MS: 'publishDelayMs',
  },
  uses: { signalHistory: signalHistoryConfig },
  docs: {
    lookback: 'n: bars in the volume baseline (default 20).',
    volumeMultiple: 'k: signal bar volume ≥ k × baseline mean (default 2.5).',
    holdBars: 'A stock leaves the list this many bars after its last spike (default 20).',
    maxStocks: 'Upper bound of the buy list (default 200).',
    publishDelayMs: 'Changes within this window are published as one buy list (default 100 ms).',
  },
});
