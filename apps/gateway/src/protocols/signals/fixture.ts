import { DEV_SECRET, mintDevToken } from '@gw/auth';
import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { loadConfig } from '@gw/config';
import { WebSocket } from 'ws';
import type { ClientOptions } from 'ws';
import { startTestGateway } from '../../testing/gateway.js';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import { startStalledReader } from '../../testing/stalled-reader.js';
import type { StalledReader } from '../../testing/stalled-reader.js';

export const ADMIN_TOKEN = 'admin-test-token';

/** The bus variants every signal test runs on: memory always, Redis too (CI sets REDIS_URL). */
export const busVariants = [
  { name: 'memory bus', env: {} as Record<string, string> },
  {
    name: 'redis bus',
    env: {
      REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `gwtest:${process.pid}:${Math.random().toString(36).slice(2)}:`,
    },
  },
];

export async function startSignalsGateway(env: Record<string, string>): Promise<TestGateway> {
  const fullEnv = { ADMIN_TOKEN, ...env };
  const { signals } = loadConfig(fullEnv, { signals: signalsAdapterConfig });
  return startTestGateway({ env: fullEnv, adapters: [createSignalsAdapter(signals)] });
}

export function token(sub: string | number = 4, expiresIn: string | number = '1h'): Promise<string> {
  return mintDevToken({ secret: DEV_SECRET, sub, expiresIn });
}

export interface SignalClient {
  socket: WebSocket;
  frames: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
  /** Signals (buy/sell frames) received so far. */
  signals(): Record<string, unknown>[];
}

/** A `ws` client, as the legacy signal service's JavaScript example builds it (Bearer header), resolved once open. */
export async function connect(url: string, options: ClientOptions = {}): Promise<SignalClient> {
  const socket = new WebSocket(url, options);
  // A socket error also ends in 'close' (1006), which the tests read; without a listener it would throw.
  socket.on('error', () => undefined);
  const frames: Record<string, unknown>[] = [];
  socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      resolve();
    });
    socket.once('error', reject);
  });
  return { socket, frames, closed, signals: () => frames.filter((f) => f['type'] === 'buy' || f['type'] === 'sell') };
}

export async function connectWithToken(gateway: TestGateway, query = '', path = '/ws/signals'): Promise<SignalClient> {
  return connect(`${gateway.wsUrl}${path}${query}`, { headers: { Authorization: `Bearer ${await token()}` } });
}

/** The HTTP status and body the server answered a refused upgrade with. */
export function refusedUpgrade(url: string, options: ClientOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options);
    socket.on('open', () => {
      socket.close();
      reject(new Error('upgrade was accepted'));
    });
    socket.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    socket.on('error', () => {
      // the unexpected-response handler resolves
    });
  });
}

export async function publishSignal(
  gateway: TestGateway,
  body: unknown,
  admin: string | null = ADMIN_TOKEN,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await httpGet(`${gateway.httpUrl}/api/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(admin === null ? {} : { authorization: `Bearer ${admin}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: res.json() as Record<string, unknown> };
}

export function buy(symbol: string, price = 100): { type: 'buy'; content: { symbol: string; price: number } } {
  return { type: 'buy', content: { symbol, price } };
}

/** A signal client that stops reading right after the handshake (see startStalledReader). */
export async function stalledReader(hostPort: string, bearer: string, path = '/ws/signals?symbols=BULK'): Promise<StalledReader> {
  return startStalledReader({ port: Number(hostPort.split(':')[1]), path, bearer });
}

/**
 * A reader for volume tests: counts frames and checks that prices arrive as 1, 2, 3, ... without parsing
 * every frame as JSON (the test process must stay cheaper than the server it measures).
 */
export async function countingReader(
  gateway: TestGateway,
  query: string,
): Promise<{ count(): number; inOrder(): boolean; close(): void }> {
  const socket = new WebSocket(`${gateway.wsUrl}/ws/signals${query}`, { headers: { Authorization: `Bearer ${await token()}` } });
  let count = 0;
  let ordered = true;
  socket.on('message', (data: Buffer) => {
    count += 1;
    const text = data.toString('latin1');
    const at = text.indexOf('"price":');
    if (Number.parseFloat(text.slice(at + 8)) !== count) {
      ordered = false;
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      resolve();
    });
    socket.once('error', reject);
  });
  return { count: () => count, inOrder: () => ordered, close: () => {
      socket.close();
    } };
}
