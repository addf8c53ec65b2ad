import { z } from 'zod';
import { defineConfigSection, envBoolean, envInt, envList, envMs } from '@gw/config';

/** Settings of the stock price protocol (section `stock`). */
export const stockAdapterConfig = defineConfigSection({
  name: 'stock',
  schema: z.object({
    pushIntervalMs: envInt(10, 3_600_000).default(1_000),
    requireAuth: envBoolean().default(false),
    strategies: envList().default(['volume_wave']),
    maxSubscriptions: envInt(1, 10_000).default(100),
    maxMessageBytes: envInt(64, 1_048_576).default(4_096),
    maxFrameBytes: envInt(1_024, 4_194_304).default(65_536),
    messagesPerSecond: envInt(1, 100_000).default(20),
    messageBurst: envInt(1, 100_000).default(250),
    maxBufferedBytes: envInt(16_384, 1_073_741_824).default(1_048_576),
    slowClientTimeoutMs: envMs(3_600_000).default(10_000),
    flushSliceMs: envInt(0, 1_000).default(10),
    idleTimeoutSec: envInt(0, 960)
      .refine((s) => s === 0 || s >= 8, { error: 'expected 0 (off) or 8 to 960 seconds' })
      .default(120),
  }),
  env: {
    STOCK_PUSH_INTERVAL_MS: 'pushIntervalMs',
    STOCK_REQUIRE_AUTH: 'requireAuth',
    STOCK_STRATEGIES: 'strategies',
    STOCK_MAX_SUBSCRIPTIONS: 'maxSubscriptions',
    STOCK_MAX_MESSAGE_BYTES: 'maxMessageBytes',
    STOCK_MAX_FRAME_BYTES: 'maxFrameBytes',
    STOCK_MESSAGES_PER_SECOND: 'messagesPerSecond',
    STOCK_MESSAGE_BURST: 'messageBurst',
    STOCK_MAX_BUFFERED_BYTES: 'maxBufferedBytes',
    STOCK_SLOW_CLIENT_TIMEOUT_MS: 'slowClientTimeoutMs',
    STOCK_IDLE_TIMEOUT_S: 'idleTimeoutSec',
    STOCK_FLUSH_SLICE_MS: 'flushSliceMs',
  },
  deprecatedEnv: { STOCK_MAX_MESSAGES_PER_SEC: 'messagesPerSecond' },
  docs: {
    pushIntervalMs: 'price_update at most once per this interval per connection (default 1000; 60000 = legacy).',
    requireAuth: 'Require a JWT on the upgrade (Authorization: Bearer or ?token=); default false, as the legacy service.',
    strategies: 'Legacy and optional: strategies accepted even while no running source announces them (answered subscribed with a no_source warning until one does); default volume_wave, the legacy service\'s strategy. Strategies that running sources announce need no setting.',
    maxSubscriptions: 'Subscriptions per connection; more are refused with too_many_subscriptions (default 100).',
    maxMessageBytes: 'Client messages larger than this are answered message_too_large (default 4096).',
    maxFrameBytes: 'Frames larger than this close the connection with 1009 (default 65536; at most 4 MiB, the hard cap of every raw WebSocket frame).',
    messagesPerSecond: 'Client messages per second per connection (token bucket refill); over it: error rate_limited; a connection whose refused messages exceed the burst is closed (4429).',
    messageBurst: 'Messages a connection may send at once (token bucket size).',
    maxBufferedBytes: 'Unsent output per connection above which price updates wait (conflated) (default 1 MiB).',
    slowClientTimeoutMs: 'A connection whose output stays above the bound this long is closed with 4408 (default 10000).',
    flushSliceMs: 'Longest the interval flush spreads changes or writes before letting other work run; a larger flush continues on the next turns of the event loop (default 10; 0: a turn per changed stock while spreading, every 32 connections while writing).',
    idleTimeoutSec: 'Server pings; a peer silent this long is dropped (0 = off, else 8–960; default 120).',
  },
});

export type StockAdapterConfig = z.output<typeof stockAdapterConfig.schema>;
