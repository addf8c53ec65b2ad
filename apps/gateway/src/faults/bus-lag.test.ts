import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { httpGet } from '../testing/http.js';

/**
 * A TCP forwarder between the gateway and Redis that can hold what Redis sends: while held, Redis's replies
 * and pub/sub messages are kept in the forwarder (the connections stay up, commands still reach Redis), and
 * released in order afterwards. A subscriber that is "connected" but receives nothing, for as long as a test
 * wants, without touching the Redis server other tests share.
 */
class HoldingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Per held connection, what Redis sent meanwhile, in order. */
  readonly #held = new Map<Socket, Buffer[]>();
  #holding = false;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('error', () => undefined);
      }
      client.on('data', (chunk: Buffer) => upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => {
        if (this.#holding) {
          const queue = this.#held.get(client) ?? [];
          queue.push(chunk);
          this.#held.set(client, queue);
        } else {
          client.write(chunk);
        }
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(targetPort: number): Promise<HoldingProxy> {
    const proxy = new HoldingProxy(targetPort);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get url(): string {
    const address = this.#server.address();
    return `redis://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  }

  hold(): void {
    this.#holding = true;
  }

  release(): void {
    this.#holding = false;
    for (const [client, chunks] of this.#held) {
      for (const chunk of chunks) {
        client.write(chunk);
      }
    }
    this.#held.clear();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

interface Readiness {
  status: number;
  error: string | undefined;
  bus: string;
  lagMs: number;
}

async function readiness(gateway: TestGateway): Promise<Readiness> {
  const response = await httpGet(`${gateway.httpUrl}/api/ready`);
  const body = response.json() as { error?: string; checks: { bus: string; bus_lag_ms: number } };
  return { status: response.status, error: body.error, bus: body.checks.bus, lagMs: body.checks.bus_lag_ms };
}

async function probeAgeSeconds(gateway: TestGateway): Promise<number> {
  const text = (await httpGet(`${gateway.httpUrl}/metrics`)).body;
  const line = text.split('\n').find((l) => l.startsWith('gateway_bus_probe_age_seconds'));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

const PROBE_INTERVAL_MS = 400;
const MAX_LAG_MS = 1_600;

/**
 * `bus_lag_ms` (and `gateway_bus_lag_seconds`) is the probe's round trip; readiness is the age of the last
 * probe back (`gateway_bus_probe_age_seconds`). On a real Redis whose replies and messages are held: the node stays "connected", goes not ready
 * once no probe came back for BUS_MAX_LAG_MS, and when the held probes arrive their round trip shows the stall.
 */
describe('bus lag and readiness on a Redis that stops delivering', () => {
  let proxy: HoldingProxy;
  let gateway: TestGateway;

  beforeAll(async () => {
    const redis = new URL(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
    proxy = await HoldingProxy.start(Number(redis.port === '' ? '6379' : redis.port));
    gateway = await startTestGateway({
      env: {
        REDIS_URL: proxy.url,
        REDIS_KEY_PREFIX: `gwtest:buslag:${process.pid}:${Math.random().toString(36).slice(2)}:`,
        BUS_PROBE_INTERVAL_MS: String(PROBE_INTERVAL_MS),
        BUS_MAX_LAG_MS: String(MAX_LAG_MS),
      },
    });
  });

  afterAll(async () => {
    proxy.release();
    await gateway.shutdown();
    await proxy.close();
  });

  it('is ready with a small round trip, not ready while held, and shows the held round trip once released', async () => {
    await expect.poll(async () => (await readiness(gateway)).status, { timeout: 15_000, interval: 50 }).toBe(200);
    // Probes come back every interval: the figure is a round trip on localhost, not the time since the last one.
    await expect.poll(async () => (await readiness(gateway)).lagMs, { timeout: 15_000, interval: 50 }).toBeLessThan(PROBE_INTERVAL_MS);

    proxy.hold();
    let held: Readiness | undefined;
    await expect
      .poll(
        async () => {
          held = await readiness(gateway);
          return held.error;
        },
        { timeout: 20_000, interval: 50 },
      )
      .toBe('bus_stalled');
    expect(held?.status).toBe(503);
    expect(held?.bus).toBe('connected');
    // Still the last round trip measured, not the time the outstanding probes have been out (over a second now).
    expect(held?.lagMs).toBeLessThan(MAX_LAG_MS / 2);
    // That time is the probe age, its own gauge (what an alert on a stalled bus watches), while still held.
    await expect.poll(() => probeAgeSeconds(gateway), { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(MAX_LAG_MS / 1000);

    // Not ready means no probe came back for MAX_LAG_MS; the oldest held one left at most an interval after the
    // last that came back, so its round trip is at least MAX_LAG_MS minus an interval (half of it, with margin
    // for a late timer). It shows from its arrival until two intervals later: polled without pause.
    proxy.release();
    let worst = 0;
    await expect
      .poll(
        async () => {
          worst = Math.max(worst, (await readiness(gateway)).lagMs);
          return worst;
        },
        { timeout: 20_000, interval: 0 },
      )
      .toBeGreaterThanOrEqual(MAX_LAG_MS / 2);
    await expect.poll(async () => (await readiness(gateway)).status, { timeout: 20_000, interval: 50 }).toBe(200);
    // Once the held probes are through, the round trip is back to a local one.
    await expect.poll(async () => (await readiness(gateway)).lagMs, { timeout: 20_000, interval: 50 }).toBeLessThan(PROBE_INTERVAL_MS);
  });
});
