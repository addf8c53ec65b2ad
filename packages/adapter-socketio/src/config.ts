import { z } from 'zod';
import { defineConfigSection, envInt, envList, envMs } from '@gw/config';
import type { SectionOutput } from '@gw/config';

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Settings of the Socket.IO trading protocol (environment variables in `env`). */
export const socketioConfig = defineConfigSection({
  name: 'socketio',
  schema: z.object({
    corsOrigins: envList().default(['*']),
    maxMessageBytes: envInt(1024, 16 * 1024 * 1024).default(64 * 1024),
    maxBackpressureBytes: envInt(16 * 1024, 256 * 1024 * 1024).default(1024 * 1024),
    messagesPerSecond: envInt(1, 100_000).default(20),
    messageBurst: envInt(1, 100_000).default(250),
    timestampTimeZone: z.string().refine(isTimeZone, { error: 'expected an IANA time zone such as UTC or Asia/Shanghai' }).default('Asia/Shanghai'),
    pingIntervalMs: envMs(300_000).min(1_000).default(25_000),
    pingTimeoutMs: envMs(300_000).min(1_000).default(20_000),
  }),
  env: {
    SOCKETIO_CORS_ORIGINS: 'corsOrigins',
    SOCKETIO_MAX_MESSAGE_BYTES: 'maxMessageBytes',
    SOCKETIO_MAX_BACKPRESSURE_BYTES: 'maxBackpressureBytes',
    SOCKETIO_MESSAGES_PER_SECOND: 'messagesPerSecond',
    SOCKETIO_MESSAGE_BURST: 'messageBurst',
    SOCKETIO_TIMESTAMP_TZ: 'timestampTimeZone',
    SOCKETIO_PING_INTERVAL_MS: 'pingIntervalMs',
    SOCKETIO_PING_TIMEOUT_MS: 'pingTimeoutMs',
  },
  docs: {
    corsOrigins: 'Origins allowed to use the polling transport from a browser (comma list, default * — tokens, not cookies, authenticate).',
    maxMessageBytes: 'Largest client message; a larger one closes the connection (default 65536).',
    maxBackpressureBytes: 'Per-connection buffered output bound (uWS); past it pushes to that socket are dropped (default 1 MiB).',
    messagesPerSecond: 'Client messages per second per connection (token bucket refill); over it: error rate_limited; a connection whose refused messages exceed the burst is disconnected.',
    messageBurst: 'Messages a connection may send at once (token bucket size).',
    timestampTimeZone: 'Time zone of the pushes\' "timestamp" (YYYY-MM-DDTHH:mm:ss), default Asia/Shanghai like the stock protocol (the legacy services wrote China local time).',
    pingIntervalMs: 'Engine.IO heartbeat interval (default 25000).',
    pingTimeoutMs: 'Engine.IO heartbeat timeout (default 20000).',
  },
});

export type SocketIoConfig = SectionOutput<typeof socketioConfig>;

/** The defaults, as `loadConfig` gives them with no variable set. */
export const defaultSocketIoConfig: SocketIoConfig = socketioConfig.schema.parse({});
