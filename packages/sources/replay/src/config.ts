import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineConfigSection, envBoolean, envInt, envMs } from '@gw/config';

/** The recording shipped with the package: 6 stocks, 10 minutes of ticks. */
export const SAMPLE_RECORDING = fileURLToPath(new URL('../data/sample-ticks.csv', import.meta.url));

/** Settings of the replay source (section `replay`). */
export const replayConfig = defineConfigSection({
  name: 'replay',
  schema: z.object({
    file: z.string().min(1).default(SAMPLE_RECORDING),
    format: z.enum(['auto', 'csv', 'jsonl'], { error: 'expected auto, csv or jsonl' }).default('auto'),
    speed: z.coerce.number({ error: 'expected a speed factor from 0.01 to 1000000' }).min(0.01).max(1_000_000).default(1),
    loop: envBoolean().default(true),
    barIntervalMs: envMs(3_600_000).min(50, { error: 'expected at least 50 ms' }).default(60_000),
    barHistory: envInt(2, 1_000).default(60),
  }),
  env: {
    REPLAY_FILE: 'file',
    REPLAY_FORMAT: 'format',
    REPLAY_SPEED: 'speed',
    REPLAY_LOOP: 'loop',
    REPLAY_BAR_INTERVAL_MS: 'barIntervalMs',
    REPLAY_BAR_HISTORY: 'barHistory',
  },
  docs: {
    file: 'Recording to play: CSV with a header, or JSON lines (default: the shipped sample).',
    format: 'auto (by extension: .jsonl/.ndjson/.json are JSON lines), csv or jsonl.',
    speed: '1 = the recorded pace, 10 = ten times faster (default 1).',
    loop: 'Start over at the end (default true).',
    barIntervalMs: 'Bar length built from the recorded times (default 60000).',
    barHistory: 'Completed bars kept per stock (default 60).',
  },
});
