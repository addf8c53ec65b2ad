import { z } from 'zod';
import { defineConfigSection, envInt, envList } from '@gw/config';
import type { SectionOutput } from '@gw/config';
import { apiSignalProducer, signalHistoryConfig, signalProducerSchema } from '@gw/topics';

export const signalsAdapterConfig = defineConfigSection({
  name: 'signals',
  schema: z.object({
    maxFrameBytes: envInt(16, 1_048_576).default(4_096),
    maxBufferedBytes: envInt(16_384, 268_435_456).default(1_048_576),
    messagesPerSecond: envInt(1, 100_000).default(20),
    messageBurst: envInt(1, 100_000).default(250),
    maxSymbols: envInt(1, 10_000).default(100),
    defaultSources: envList()
      .pipe(z.array(z.union([z.literal('*'), signalProducerSchema])).min(1, { error: 'expected at least one producer, or *' }))
      .default(['crypto-signals', apiSignalProducer]),
    maxSources: envInt(1, 64).default(16),
  }),
  env: {
    SIGNALS_MAX_FRAME_BYTES: 'maxFrameBytes',
    SIGNALS_MAX_BUFFERED_BYTES: 'maxBufferedBytes',
    SIGNALS_MESSAGES_PER_SECOND: 'messagesPerSecond',
    SIGNALS_MESSAGE_BURST: 'messageBurst',
    SIGNALS_MAX_SYMBOLS: 'maxSymbols',
    SIGNALS_DEFAULT_SOURCES: 'defaultSources',
    SIGNALS_MAX_SOURCES: 'maxSources',
  },
  deprecatedEnv: { SIGNALS_MAX_MESSAGES_PER_S: 'messagesPerSecond' },
  uses: { signalHistory: signalHistoryConfig },
  docs: {
    maxFrameBytes: 'Largest client frame accepted; larger ones close the connection with 1009 (up to the 4 MiB hard cap).',
    maxBufferedBytes: 'Unsent output per connection before the client is disconnected as a slow consumer (4408).',
    messagesPerSecond: 'Client messages per second per connection (token bucket refill); over it: error rate_limited; a connection whose refused messages exceed the burst is closed (4429).',
    messageBurst: 'Messages a connection may send at once (token bucket size).',
    maxSymbols: 'Most symbols in a ?symbols= filter.',
    defaultSources: 'Signal producers a connection without ?sources= receives (comma-separated; * = every producer). Default: what the legacy signal service carried, crypto signals and signals published through the API; A-share strategies (volume_wave) only on request.',
    maxSources: 'Most producers in a ?sources= filter.',
  },
});

export type SignalsAdapterConfig = SectionOutput<typeof signalsAdapterConfig>;
