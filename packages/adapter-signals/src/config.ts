import { z } from 'zod';
import { defineConfigSection, envInt } from '@gw/config';
import { signalHistoryEnv, signalHistoryShape } from '@gw/topics';

export const signalsAdapterConfig = defineConfigSection({
  name: 'signals',
  schema: z.object({
    maxFrameBytes: envInt(16, 1_048_576).default(4_096),
    maxBufferedBytes: envInt(16_384, 268_435_456).default(1_048_576),
    maxMessagesPerSecond: envInt(1, 100_000).default(20),
    maxSymbols: envInt(1, 10_000).default(100),
    ...signalHistoryShape,
  }),
  env: {
    SIGNALS_MAX_FRAME_BYTES: 'maxFrameBytes',
    SIGNALS_MAX_BUFFERED_BYTES: 'maxBufferedBytes',
    SIGNALS_MAX_MESSAGES_PER_S: 'maxMessagesPerSecond',
    SIGNALS_MAX_SYMBOLS: 'maxSymbols',
    ...signalHistoryEnv,
  },
  docs: {
    maxFrameBytes: 'Largest client frame accepted; larger ones close the connection with 1009.',
    maxBufferedBytes: 'Unsent output per connection before the client is disconnected as a slow consumer (4008).',
    maxMessagesPerSecond: 'Client frames per second per connection; over it: error, sustained: close 1008.',
    maxSymbols: 'Most symbols in a ?symbols= filter.',
    historySize: 'Signals kept for ?since= recovery.',
    historyMaxAgeMs: 'Oldest signal kept for ?since= recovery (milliseconds).',
  },
});

export type SignalsAdapterConfig = z.output<typeof signalsAdapterConfig.schema>;
