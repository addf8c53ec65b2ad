// What an operator meets when running the processes: ports that cannot be shared by mistake, and /metrics that
// Prometheus's own linter accepts on a gateway and a worker that are busy.
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mintDevToken } from '@gw/auth';
import { httpGet, run, spawnGateway, startGateway, startWorker, stopAll, waitUntil } from './support/processes.js';
import { deleteKeys, redisUrl } from './support/redis.js';

const JWT_SECRET = 'operations-test-secret-of-at-least-32-bytes';

/**
 * What `promtool check metrics` may say about our scrape: prom-client's three standard gauges named
 * `nodejs_active_*_total`, kept under the names every Node.js dashboard uses although promtool reserves `_total`
 * for counters. Anything else is a finding.
 */
const ACCEPTED_REMARKS = new Set(
  ['handles', 'requests', 'resources'].map((kind) => `nodejs_active_${kind}_total non-counter metrics should not have "_total" suffix`),
);

async function promtoolRemarks(exposition: string): Promise<string[]> {
  const result = await run('promtool', ['check', 'metrics'], { cwd: process.cwd(), stdin: exposition });
  // 0: clean; 3: lint remarks only; anything else (1: unparsable) is a failure of the test itself.
  expect([0, 3], result.stdout + result.stderr).toContain(result.code);
  return `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '');
}

afterEach(async () => {
  await stopAll();
});

describe('exclusive ports', () => {
  it('a second gateway on a busy port of a PORT list exits non-zero naming that port; the first keeps both', async () => {
    // Two ports the kernel chose and the gateway held from its start (none found free beforehand: another
    // test's process could take it while the gateway starts).
    const first = await startGateway({ PORT: '0,0', NODE_ID: 'first' });
    const ports = (await first.logLine('gateway listening'))['ports'] as number[];
    const [a, b] = [ports[0] ?? 0, ports[1] ?? 0];
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a).not.toBe(b);

    // Each port of the list in turn, busy in first and in last position of the second process's list.
    for (const [busy, list] of [
      [a, `${a},0`],
      [b, `0,${b}`],
    ] as const) {
      const second = spawnGateway({ PORT: list, NODE_ID: 'second' });
      const exit = await second.exited;
      expect(exit.code, second.output()).toBe(1);
      expect(exit.stderr).toContain(`cannot listen on 127.0.0.1:${busy}: the port is in use`);
      expect(second.output()).not.toContain('"gateway listening"');
    }

    // Only the first answers, on both ports: no request reaches a second node.
    for (const port of [a, b]) {
      for (let i = 0; i < 4; i++) {
        const { status, body } = await httpGet(`http://127.0.0.1:${port}/api/ready`);
        expect(status).toBe(200);
        expect(JSON.parse(body)).toMatchObject({ node_id: 'first' });
      }
    }
    expect((await first.stop()).code).toBe(0);
  }, 90_000);
});

describe('promtool check metrics', () => {
  const prefix = `gwtest:ops:${randomUUID().slice(0, 8)}:`;
  afterAll(async () => {
    await deleteKeys(prefix);
  });

  it('finds nothing but the standard nodejs_active_*_total gauges on a loaded gateway and worker', async () => {
    const redis = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
    const worker = await startWorker('heartbeat', { ...redis, HEARTBEAT_INTERVAL_MS: '50' });
    const gateway = await startGateway({ ...redis, JWT_SECRET });
    const base = `127.0.0.1:${gateway.port}`;

    // Load: signal clients receiving published signals, stock clients, HTTP requests and refused handshakes,
    // so that every labelled family has series.
    const token = await mintDevToken({ secret: JWT_SECRET, sub: '7' });
    const clients = [
      ...Array.from({ length: 10 }, () => new WebSocket(`ws://${base}/ws/signals`, { headers: { authorization: `Bearer ${token}` } })),
      ...Array.from({ length: 10 }, () => new WebSocket(`ws://${base}/ws/stock/prices`)),
      new WebSocket(`ws://${base}/ws/signals`, { headers: { authorization: 'Bearer not-a-token' } }),
    ];
    for (const client of clients) {
      client.on('error', () => undefined);
    }
    try {
      await waitUntil('20 open client connections', async () => {
        const { body } = await httpGet(`http://${base}/metrics`);
        return /gateway_connections\{[^}]*protocol="signals"[^}]*\} 10\b/.test(body) && /gateway_connections\{[^}]*protocol="stock"[^}]*\} 10\b/.test(body);
      });
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`http://${base}/api/signals`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'buy', content: { symbol: 'BTCUSDT', price: 75_000 + i } }),
        });
        expect(response.status).toBeLessThan(300);
      }
      await waitUntil('signals delivered', async () =>
        /gateway_messages_sent_total\{[^}]*protocol="signals"[^}]*\} [1-9]/.test((await httpGet(`http://${base}/metrics`)).body),
      );
      await waitUntil('heartbeats polled by the worker', async () =>
        /gateway_source_polls_total\{[^}]*source="heartbeat"[^}]*\} [1-9]\d/.test((await httpGet(`http://127.0.0.1:${worker.port}/metrics`)).body),
      );

      for (const url of [`http://${base}/metrics`, `http://127.0.0.1:${worker.port}/metrics`]) {
        const { status, body } = await httpGet(url);
        expect(status).toBe(200);
        // The standard Node names, unprefixed, next to the gateway's own.
        expect(body).toMatch(/^process_cpu_seconds_total\{/m);
        expect(body).toMatch(/^nodejs_eventloop_lag_p99_seconds\{/m);
        expect(body).not.toMatch(/^gateway_(?:process|nodejs)_/m);
        const remarks = await promtoolRemarks(body);
        expect(remarks.filter((remark) => !ACCEPTED_REMARKS.has(remark)), url).toEqual([]);
      }
    } finally {
      for (const client of clients) {
        client.terminate();
      }
    }
  }, 120_000);
});
