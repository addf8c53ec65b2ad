import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushSchemas } from '@gw/adapter-socketio';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { sleep } from '@gw/core';
import { sampleAccount, startFakeBybit, writeAccountsFile } from '@gw/source-trading/testing';
import type { FakeBybit } from '@gw/source-trading/testing';
import type { TestGateway } from '../../testing/gateway.js';
import { spawnNode } from '../../testing/node-process.js';
import type { NodeProcess } from '../../testing/node-process.js';
import { busVariants, startTradingGateway, token } from './harness.js';

const nodeMain = 'apps/gateway/src/protocols/socketio/cluster-node.ts';
const redis = busVariants.find((v) => v.name === 'redis bus')!.env;

/** Starts the second gateway as its own process and resolves with its port once it listens. */
async function spawnGatewayNode(env: Record<string, string>): Promise<{ node: NodeProcess; port: number }> {
  const node = spawnNode('remote', nodeMain, [], { PORT: '0', DRAIN_TIMEOUT_MS: '0', ...env });
  const listening = await node.logLine('gateway listening');
  return { node, port: (listening['ports'] as number[])[0] ?? 0 };
}

describe('Socket.IO trading across gateway processes (redis bus)', () => {
  let fake: FakeBybit;
  let local: TestGateway;
  let remote: { node: NodeProcess; port: number };
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
    remote.node.kill('SIGTERM');
    await remote.node.exited;
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

    // One poller for the user across both nodes: its polls are due one interval (300 ms) apart on the account's
    // grid, so six of them span five intervals, less only what the first was late by. A second poller would
    // interleave its own polls and halve the span. (A single gap says little on a loaded machine: a poll that
    // starts late is followed by one back on the grid, a short gap.)
    const from = fake.requestsOf('cluster-key', '/v5/account/wallet-balance').length;
    await expect.poll(() => fake.requestsOf('cluster-key', '/v5/account/wallet-balance').length - from).toBeGreaterThanOrEqual(6);
    const polls = fake.requestsOf('cluster-key', '/v5/account/wallet-balance').slice(from, from + 6);
    expect(polls.at(-1)!.at - polls[0]!.at).toBeGreaterThanOrEqual(5 * 300 * 0.75);

    fake.account('cluster-key').walletBalance = '12345.00';
    expect(pushSchemas.balance_update.parse(await there.next('balance_update', 3_000)).data.total_balance).toBe(12345);
    expect(pushSchemas.balance_update.parse(await here.next('balance_update', 3_000)).data.total_balance).toBe(12345);

    // The local watcher leaves: the remote one keeps the user polled; when it leaves too, polling stops.
    here.close();
    const stillPolled = fake.requestsOf('cluster-key').length;
    await expect.poll(() => fake.requestsOf('cluster-key').length).toBeGreaterThan(stillPolled + 1);
    there.close();
    // Once no node declares interest, at most the request in flight lands; three intervals later, nothing more.
    await expect.poll(() => local.bus.interestedTopics('trading.80.')).toEqual([]);
    const stopped = fake.requestsOf('cluster-key').length;
    await sleep(900);
    expect(fake.requestsOf('cluster-key').length).toBeLessThanOrEqual(stopped + 1);
  });
});
