import type { Bus } from '@gw/bus';
import type { ConfigSection } from '@gw/config';
import { createLogger } from '@gw/core';
import type { Logger } from '@gw/core';
import type { DataSource } from '@gw/source';
import type { ProtocolAdapter } from '@gw/connections';
import { loadGatewayConfig } from '../config.js';
import { startGateway } from '../gateway.js';
import type { Gateway } from '../gateway.js';

export interface TestGatewayOptions {
  /** Environment for the configuration; PORT=0, HOST=127.0.0.1 and DRAIN_TIMEOUT_MS=0 unless given. */
  env?: Record<string, string>;
  adapters?: readonly ProtocolAdapter[];
  /** Sources with their configuration sections, parsed from `env` like the real process does. */
  sources?: readonly DataSource[];
  bus?: Bus;
  logger?: Logger;
}

export interface TestGateway extends Gateway {
  /** `http://127.0.0.1:<first port>` */
  readonly httpUrl: string;
  /** `ws://127.0.0.1:<first port>` */
  readonly wsUrl: string;
}

/**
 * A real gateway in this process (real uWS on 127.0.0.1, a kernel-chosen port), for protocol tests. The bus is
 * the one the env names: memory by default, Redis when `env.REDIS_URL` is set. Call `shutdown()` after.
 */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const sources = options.sources ?? [];
  const sections: Record<string, ConfigSection> = Object.fromEntries(sources.map((s) => [s.name, s.config]));
  const config = loadGatewayConfig({ PORT: '0', HOST: '127.0.0.1', DRAIN_TIMEOUT_MS: '0', ...options.env }, sections);
  const all = config as unknown as Record<string, Record<string, unknown>>;
  const gateway = await startGateway({
    config,
    logger: options.logger ?? createLogger({ level: 'silent' }),
    adapters: options.adapters ?? [],
    sources: sources.map((source) => ({ source, config: all[source.name] ?? {} })),
    ...(options.bus === undefined ? {} : { bus: options.bus }),
  });
  const port = gateway.ports[0] ?? 0;
  return Object.assign(gateway, { httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` });
}

/** The server's view of a connection's token expiry (the sweep's `expiresAt`, ms), by protocol and user. */
export function serverExpiry(gateway: Gateway, protocol: string, userId: number): number | undefined {
  const client = [...gateway.clients.all()].find((c) => c.protocol === protocol && c.userId === userId) as { expiresAt?: number } | undefined;
  return client?.expiresAt;
}
