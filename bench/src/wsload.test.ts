import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeApp, uWS } from '@gw/uws';
import type { TemplatedApp } from '@gw/uws';
import { answers, freePort, startServerProcess } from './server-process.js';
import type { ServerProcess } from './server-process.js';
import { buildWsload, runWsload } from './wsload.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dir: string;
let wsload: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-bench-test-'));
  wsload = await buildWsload(dir);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('wsload against the reference server (real processes, loopback)', () => {
  let server: ServerProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = await startServerProcess({
      label: 'uws-reference',
      cwd: ROOT,
      script: 'bench/src/reference-server.ts',
      env: { PORT: String(port) },
      isReady: () => answers(`http://127.0.0.1:${port}/`),
    });
  }, 60_000);

  afterAll(async () => {
    await server.stop();
  });

  it('accounts every delivery of what it published', async () => {
    const run = await runWsload(
      wsload,
      [
        '-u', `ws://127.0.0.1:${port}/ws`,
        '--pub-http', `http://127.0.0.1:${port}/pub`,
        '--payload', 'SEQ{seq}',
        '-c', '20', '-r', '50', '-d', '1',
        '--settle', '0.5', '--drain', '3',
        '--server-pid', String(server.pid),
      ],
      30,
    );
    expect(run.aborted).toBe(false);
    expect(run.conns_open).toBe(20);
    expect(run.publish_count).toBe(50);
    expect(run.received_deliveries).toBe(1000);
    expect(run.delivery_ratio).toBe(1);
    expect(run.duplicates).toBe(0);
    expect(run.latency_us.n).toBe(1000);
    expect(run.server_cpu_seconds).toBeGreaterThanOrEqual(0);
    expect(run.args).toContain('--max-runtime');
  }, 60_000);
});

describe('wsload passive mode against a server that pushes on its own', () => {
  const SHANGHAI_MS = 8 * 3_600_000;
  let app: TemplatedApp;
  let port: number;
  let timer: NodeJS.Timeout;
  /** Frames the server wrote to subscribers (the count the bench compares wsload's with). */
  let written = 0;

  beforeAll(async () => {
    port = await freePort();
    app = uWS.App();
    app.ws('/push', {
      message: (ws, message) => {
        const text = Buffer.from(message).toString();
        if (text === 'sub') {
          ws.subscribe('t');
        } else if (text === 'unsub') {
          ws.unsubscribe('t');
          ws.send('{"type":"unsubscribed"}', false);
        }
      },
    });
    await new Promise<void>((resolve, reject) => {
      app.listen('127.0.0.1', port, (token) => {
        if (token === false) {
          reject(new Error('listen failed'));
        } else {
          resolve();
        }
      });
    });
    // Every 100 ms one frame with three items, one of them repeated, stamped with Shanghai wall time.
    timer = setInterval(() => {
      const timestamp = new Date(Date.now() + SHANGHAI_MS).toISOString().slice(0, 19);
      const n = app.numSubscribers('t');
      app.publish('t', JSON.stringify({ type: 'tick', data: [{ code: 'A' }, { code: 'B' }, { code: 'A' }], timestamp }), false);
      written += n;
    }, 100);
  });

  afterAll(() => {
    clearInterval(timer);
    closeApp(app);
  });

  it('counts data frames, items and repeats, and stops with the end message so counts agree exactly', async () => {
    const values = join(dir, 'values.txt');
    await writeFile(values, 'sub\n');
    const run = await runWsload(
      wsload,
      [
        '-u', `ws://127.0.0.1:${port}/push`,
        '-c', '10',
        '--values', values,
        '--sub-msg', '{value}',
        '--measure', '1',
        '--count-match', '"type":"tick"',
        '--ts-key', 'timestamp',
        '--ts-offset-min', '480',
        '--burst-gap-ms', '50',
        '--item-key', '"code":"',
        '--end-msg', 'unsub',
        '--end-ack', '"unsubscribed"',
        '--settle', '0.3',
        '--drain', '5',
      ],
      30,
    );
    const passive = run.passive;
    expect(passive).toBeDefined();
    if (passive === undefined) {
      return;
    }
    expect(run.conns_open).toBe(10);
    expect(passive.data_frames_total).toBe(written);
    expect(passive.end_acked).toBe(10);
    expect(passive.data_frames_window).toBeGreaterThanOrEqual(70);
    expect(passive.per_conn_min).toBeGreaterThanOrEqual(7);
    expect(passive.per_conn_max).toBeLessThanOrEqual(12);
    expect(passive.items_total).toBe(3 * passive.data_frames_window);
    expect(passive.dup_items).toBe(passive.data_frames_window);
    // Whole-second stamps: age is below 1 s plus delivery, so the lower bound of the delay is ~0 here.
    expect(passive.age_us.max).toBeLessThan(1_500_000);
    expect(passive.lateness_us.max).toBeLessThan(500_000);
    // The ten copies of one publish arrive together: a burst spans well under the 100 ms period.
    expect(passive.burst_us.max).toBeLessThan(50_000);
  }, 60_000);
});
