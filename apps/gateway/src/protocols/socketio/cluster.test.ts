import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushSchemas } from '@gw/adapter-socketio';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { sleep } from '@gw/core';
import { sampleAccount, startFakeBybit, writeAccountsFile } from '@gw/source-trading/testing';
import type { FakeBybit } from '@gw/source-trading/testing';
import type { TestGateway } from '../../testing/gateway.js';
import { busVariants, startTradingGateway, token } from './harness.js';

const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url));
const nodeMain = 'apps/gateway/src/protocols/socketio/cluster-node.ts';
const redis = busVariants.find((v) => v.name === 'redis bus')!.env;

/** Starts the second gateway as its own process and resolves with its port once it listens. */
function spawnGatewayNode(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', nodeMain], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0', DRAIN_TIMEOUT_MS: '0', LOG_LEVEL: 'info', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway node did not start within 20 s: ${stderr}`));
    }, 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { msg?: string; ports?: number[] };
        if (parsed.msg === 'gateway listening' && parsed.ports?.[0] !== undefined) {
          clearTimeout(timer);
          resolve({ child, port: parsed.ports[0] });
        }
      } catch {
        // not a log line
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway node exited (${code}): ${stderr}`));
    });
  });
}

describe('Socket.IO trading across gateway processes (redis bus)', () => {
  let fake: FakeBybit;
  let local: TestGateway;
  let remote: { child: ChildProcess; port: number };
  const clients: TradingClient[] = [];

  beforeAll(async () => {
    fake = await startFakeBybit();
    fake.setAccount('cluster-key', sampleAccount());
    const accounts = writeAccountsFile({ '80': { exchange: 'bybit', apiKey: 'cluster-key', secret: 'cluster-secret', baseUrl: fake.url } });
    local = await startTradingGateway({ ...redis, ACCOUNTS_FILE: accounts });
    remote = await spawnGatewayNode({ REDIS_URL: redis['REDIS_URL']!, REDIS_KEY_PREFIX: redis['REDIS_KEY_PREFIX']! });
  }, 40_000);
  afterAll(async () => {
    for (const client of clients) {
      client.close();
    }
    const exited = new Promise((resolve) => remote.child.once('exit', resolve));
    remote.child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    await local.shutdown();
    await fake.close();
  });

  async function client(url: string, sub: number): Promise<TradingClient> {
    const c = await connectTradingClient(url, { auth: { token: await token(sub) } });
    clients.push(c);
    await c.next('connected');
    return c;
  }

  it('fetches a user watched from two gateway processes once, and pushes to both', async () => {
    const here = await client(local.httpUrl, 80);
    const there = await client(`http://127.0.0.1:${remote.port}`, 80);
    await here.request('subscribe_trading', { types: ['balance'] });
    await there.request('subscribe_trading', { types: ['balance'] });
    await here.next('balance_update');
    expect(pushSchemas.balance_update.parse(await there.next('balance_update')).user_id).toBe(80);

    const from = fake.requestsOf('cluster-key', '/v5/account/wallet-balance').length;
    await sleep(2_000);
    const polls = fake.requestsOf('cluster-key', '/v5/account/wallet-balance').length - from;
    // One poller at a 300 ms interval: about 7 in 2 s; two pollers would make about 14.
    expect(polls).toBeGreaterThanOrEqual(4);
    expect(polls).toBeLessThanOrEqual(8);

    fake.account('cluster-key').walletBalance = '12345.00';
    expect(pushSchemas.balance_update.parse(await there.next('balance_update', 3_000)).data.total_balance).toBe(12345);
    expect(pushSchemas.balance_update.parse(await here.next('balance_update', 3_000)).data.total_balance).toBe(12345);

    // The local watcher leaves: the remote one keeps the user polled; when it leaves too, polling stops.
    here.close();
    await sleep(700);
    const stillPolled = fake.requestsOf('cluster-key').length;
    await sleep(700);
    expect(fake.requestsOf('cluster-key').length).toBeGreaterThan(stillPolled);
    there.close();
    await sleep(700);
    const stopped = fake.requestsOf('cluster-key').length;
    await sleep(900);
    expect(fake.requestsOf('cluster-key').length).toBe(stopped);
  });
});
