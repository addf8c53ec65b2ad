import { createHmac } from 'node:crypto';
import { DEV_SECRET, mintDevToken } from '@gw/auth';
import { createSocketIoAdapter, socketioConfig } from '@gw/adapter-socketio';
import { loadConfig } from '@gw/config';
import { renderMetrics } from '@gw/metrics';
import { tradingSource } from '@gw/source-trading';
import { startTestGateway } from '../../testing/gateway.js';
import type { TestGateway } from '../../testing/gateway.js';

/**
 * The bus variants the Socket.IO trading tests run on: the memory bus always, and Redis too (CI starts one;
 * `REDIS_URL` defaults to the local server), each run under its own key prefix.
 */
export const busVariants = [
  { name: 'memory bus', env: {} as Record<string, string> },
  {
    name: 'redis bus',
    env: {
      REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `gwtest:socketio:${process.pid}:${Math.random().toString(36).slice(2)}:`,
    },
  },
];

/** Fast source intervals so tests see several polls per second. */
export const fastTrading: Record<string, string> = {
  TRADING_BALANCE_INTERVAL_MS: '300',
  TRADING_POSITIONS_INTERVAL_MS: '200',
  TRADING_PNL_INTERVAL_MS: '200',
  TRADING_ORDERS_INTERVAL_MS: '400',
  TRADING_PAPER_TICK_MS: '50',
  TRADING_RETRY_MIN_MS: '200',
  TRADING_RETRY_MAX_MS: '400',
  TRADING_AUTH_PAUSE_MS: '800',
  TRADING_AUTH_PAUSE_MAX_MS: '1600',
  TRADING_REQUEST_TIMEOUT_MS: '3000',
};

/**
 * A real gateway (uWS on 127.0.0.1) with the Socket.IO trading adapter and the trading source embedded, as
 * `pnpm start` runs them, configured from `env` like the real process (SOCKETIO_*, TRADING_*, ACCOUNTS_FILE).
 */
export async function startTradingGateway(env: Record<string, string> = {}, withSource = true): Promise<TestGateway> {
  const fullEnv = { ...fastTrading, ...env };
  const { socketio } = loadConfig(fullEnv, { socketio: socketioConfig });
  return startTestGateway({
    env: fullEnv,
    adapters: [createSocketIoAdapter(socketio)],
    sources: withSource ? [tradingSource] : [],
  });
}

/** A development token (HS256 with the development secret, as `pnpm mint-token` makes). */
export function token(sub: string | number, expiresIn: string | number = '1h', issuer?: string): Promise<string> {
  return mintDevToken({ secret: DEV_SECRET, sub, expiresIn, ...(issuer === undefined ? {} : { issuer }) });
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token built by hand (any header and claims), signed with `secret` using the header's HS algorithm. */
export function handToken(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }, secret = DEV_SECRET): string {
  const alg = typeof header['alg'] === 'string' ? header['alg'] : 'HS256';
  const input = `${b64url(header)}.${b64url(claims)}`;
  const bits = /^HS(256|384|512)$/.exec(alg)?.[1] ?? '256';
  return `${input}.${createHmac(`sha${bits}`, secret).update(input).digest('base64url')}`;
}

/** The value of one sample of the gateway's /metrics text, or 0 when absent. */
export async function metricValue(gateway: TestGateway, pattern: RegExp): Promise<number> {
  const { body } = await renderMetrics(gateway.metrics);
  const match = pattern.exec(body);
  return match === null ? 0 : Number(match[1]);
}
