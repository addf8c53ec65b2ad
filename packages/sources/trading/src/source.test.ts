import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@gw/config';
import { sleep } from '@gw/core';
import { tradingDataSchemas, tradingStatusSchema, tradingStatusTopic, tradingTopic } from '@gw/topics';
import { tradingConfig } from './config.js';
import { runTradingSource, sampleAccount, startFakeBybit, writeAccountsFile } from './testing/index.js';
import type { FakeBybit, RunningTradingSource } from './testing/index.js';

const fast = {
  TRADING_BALANCE_INTERVAL_MS: '100',
  TRADING_POSITIONS_INTERVAL_MS: '100',
  TRADING_PNL_INTERVAL_MS: '100',
  TRADING_ORDERS_INTERVAL_MS: '100',
  TRADING_PAPER_TICK_MS: '20',
  TRADING_RETRY_MIN_MS: '200',
  TRADING_RETRY_MAX_MS: '400',
  TRADING_AUTH_PAUSE_MS: '600',
  TRADING_AUTH_PAUSE_MAX_MS: '1200',
  TRADING_REQUEST_TIMEOUT_MS: '3000',
};

let fake: FakeBybit;
let running: RunningTradingSource | undefined;

beforeAll(async () => {
  fake = await startFakeBybit();
});
afterAll(async () => {
  await fake.close();
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function bybitAccount(apiKey: string): Record<string, unknown> {
  return { exchange: 'bybit', apiKey, secret: `${apiKey}-secret`, baseUrl: fake.url };
}

async function start(accounts: Record<string, unknown>, env: Record<string, string> = {}): Promise<RunningTradingSource> {
  running = await runTradingSource({ ...fast, ACCOUNTS_FILE: writeAccountsFile(accounts), ...env });
  return running;
}

describe('trading source: interest-driven polling', () => {
  it('fetches nothing for a user nobody watches, polls while watched, stops within one interval after', async () => {
    fake.setAccount('watch-key', sampleAccount());
    const source = await start({ '11': bybitAccount('watch-key') });
    await sleep(300);
    expect(fake.requestsOf('watch-key')).toHaveLength(0);

    const lease = await source.bus.declareInterest(tradingTopic('11', 'balance'));
    await expect.poll(() => source.on(tradingTopic('11', 'balance')).length, { timeout: 5_000 }).toBe(1);
    expect(source.on(tradingTopic('11', 'balance'))[0]?.data).toEqual({ total_balance: 10000, available_balance: 8000, used_margin: 2000 });
    await expect.poll(() => fake.requestsOf('watch-key', '/v5/account/wallet-balance').length, { timeout: 3_000 }).toBeGreaterThanOrEqual(3);
    // Only the watched type is fetched.
    expect(fake.requestsOf('watch-key', '/v5/order/realtime')).toHaveLength(0);

    await lease.release();
    await sleep(150);
    const after = fake.requestsOf('watch-key').length;
    await sleep(400);
    expect(fake.requestsOf('watch-key').length).toBe(after);
  });

  it('publishes only changes (normalized), the latest value kept on the bus', async () => {
    fake.setAccount('change-key', sampleAccount());
    const source = await start({ '12': bybitAccount('change-key') });
    const topic = tradingTopic('12', 'positions');
    await source.bus.declareInterest(topic);
    await expect.poll(() => source.on(topic).length, { timeout: 5_000 }).toBe(1);
    const polls = fake.requestsOf('change-key', '/v5/position/list').length;
    await expect.poll(() => fake.requestsOf('change-key', '/v5/position/list').length, { timeout: 3_000 }).toBeGreaterThan(polls + 2);
    expect(source.on(topic)).toHaveLength(1);
    // Float noise below 1e-8 is not a change; a new mark price is.
    fake.account('change-key').positions[0]!.markPrice = '50500.000000001';
    await sleep(250);
    expect(source.on(topic)).toHaveLength(1);
    fake.account('change-key').positions[0]!.markPrice = '50600';
    fake.account('change-key').positions[0]!.unrealisedPnl = '60';
    await expect.poll(() => source.on(topic).length, { timeout: 3_000 }).toBe(2);
    expect((await source.bus.latest(topic))?.data).toEqual(source.on(topic)[1]?.data);
    expect(tradingDataSchemas.positions.parse(source.on(topic)[1]?.data)[0]).toMatchObject({ mark_price: 50600, unrealized_pnl: 60 });
  });
});

describe('trading source: exchange errors', () => {
  it('pauses an account whose key is rejected, reports exchange_auth_failed, and resumes when it works', async () => {
    const source = await start({ '13': bybitAccount('rejected-key') });
    const status = tradingStatusTopic('13');
    await source.bus.declareInterest(tradingTopic('13', 'balance'));
    await expect.poll(() => source.on(status).length, { timeout: 5_000 }).toBe(1);
    const error = tradingStatusSchema.parse(source.on(status)[0]?.data);
    expect(error).toMatchObject({ state: 'error', code: 'exchange_auth_failed' });
    expect(JSON.stringify(error)).not.toContain('rejected-key-secret');
    // Paused: no request during the pause (600 ms).
    const made = fake.requests.filter((r) => r.apiKey === 'rejected-key').length;
    await sleep(350);
    expect(fake.requests.filter((r) => r.apiKey === 'rejected-key').length).toBe(made);
    expect(await source.metricsText()).toMatch(/gateway_source_errors_total\{source="trading",kind="auth"\} [1-9]/);
    // The key becomes valid: after the pause, data flows and the status is cleared.
    fake.setAccount('rejected-key', sampleAccount());
    await expect.poll(() => source.on(tradingTopic('13', 'balance')).length, { timeout: 5_000 }).toBe(1);
    await expect.poll(() => source.on(status).at(-1)?.data, { timeout: 2_000 }).toEqual({ state: 'ok' });
  });

  it('backs off on network and rate-limit errors, keeping the last good value', async () => {
    fake.setAccount('flaky-key', sampleAccount());
    const source = await start({ '14': bybitAccount('flaky-key') });
    const topic = tradingTopic('14', 'balance');
    await source.bus.declareInterest(topic);
    await expect.poll(() => source.on(topic).length, { timeout: 5_000 }).toBe(1);
    const good = source.on(topic)[0]?.data;
    fake.failNext('flaky-key', { kind: 'http', status: 502 }, Number.POSITIVE_INFINITY);
    const failingFrom = fake.requestsOf('flaky-key').length;
    await sleep(1_000);
    const failed = fake.requestsOf('flaky-key').slice(failingFrom);
    // 100 ms interval without backoff would be ~10 requests; with 200 → 400 ms backoff, at most 4.
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeLessThanOrEqual(4);
    expect((await source.bus.latest(topic))?.data).toEqual(good);
    expect(source.on(topic)).toHaveLength(1);
    fake.failNext('flaky-key', { kind: 'retCode', retCode: 10006, retMsg: 'Too many visits!' }, 1);
    await expect.poll(() => source.metricsText(), { timeout: 3_000 }).toMatch(/kind="rate_limit"\} [1-9]/);
    expect(await source.metricsText()).toMatch(/gateway_source_errors_total\{source="trading",kind="network"\} [1-9]/);
    fake.account('flaky-key').walletBalance = '10100.00';
    await expect.poll(() => source.on(topic).length, { timeout: 3_000 }).toBe(2);
    expect(source.on(topic)[1]?.data).toMatchObject({ total_balance: 10100 });
  });

  it("never lets one account's slow exchange delay another account", async () => {
    fake.setAccount('slow-key', { ...sampleAccount(), delayMs: 1_500 });
    fake.setAccount('quick-key', sampleAccount());
    const source = await start({ '15': bybitAccount('slow-key'), '16': bybitAccount('quick-key') });
    await source.bus.declareInterest(tradingTopic('15', 'balance'));
    await sleep(50);
    const since = Date.now();
    await source.bus.declareInterest(tradingTopic('16', 'balance'));
    await source.bus.declareInterest(tradingTopic('17', 'balance')); // paper
    await expect.poll(() => source.on(tradingTopic('16', 'balance')).length, { timeout: 3_000 }).toBe(1);
    await expect.poll(() => source.on(tradingTopic('17', 'balance')).length, { timeout: 3_000 }).toBeGreaterThanOrEqual(1);
    expect(source.on(tradingTopic('16', 'balance'))[0]!.publishedAt - since).toBeLessThan(1_200);
    expect(source.on(tradingTopic('15', 'balance'))).toHaveLength(0);
    await expect.poll(() => fake.requestsOf('quick-key', '/v5/account/wallet-balance').length, { timeout: 2_000 }).toBeGreaterThanOrEqual(4);
  });
});

describe('trading source: accounts', () => {
  it('gives users without an account a paper account that always has a position and an order', async () => {
    const source = await start({});
    for (const type of ['balance', 'positions', 'pnl', 'orders'] as const) {
      await source.bus.declareInterest(tradingTopic('21', type));
    }
    await expect.poll(() => source.on(tradingTopic('21', 'positions')).length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    for (const type of ['balance', 'pnl', 'orders'] as const) {
      expect(source.on(tradingTopic('21', type)).length).toBeGreaterThanOrEqual(1);
    }
    for (const message of source.published.filter((m) => m.topic.startsWith('trading.21.') && !m.topic.endsWith('.status'))) {
      const type = message.topic.split('.')[2] as 'balance' | 'positions' | 'pnl' | 'orders';
      const data: unknown = tradingDataSchemas[type].parse(message.data);
      if (type === 'positions' || type === 'orders') {
        expect((data as unknown[]).length).toBeGreaterThanOrEqual(1);
      }
    }
    expect(source.on(tradingTopic('21', 'positions'))[0]?.data).toEqual(
      expect.arrayContaining([expect.objectContaining({ symbol: expect.stringMatching(/^[A-Z]+USDT$/) as unknown })]),
    );
  });

  it('reports no_account for users without an account when the default is none (production)', async () => {
    const source = await start({}, { GATEWAY_ENV: 'production' });
    await source.bus.declareInterest(tradingTopic('22', 'balance'));
    await expect.poll(() => source.on(tradingStatusTopic('22')).at(-1)?.data, { timeout: 3_000 }).toMatchObject({
      state: 'error',
      code: 'no_account',
    });
    expect(source.on(tradingTopic('22', 'balance'))).toHaveLength(0);
  });

  it('refuses a bad accounts file at startup, naming entry and field, never a secret', () => {
    const path = writeAccountsFile({
      '4': { exchange: 'bybit', apiKey: 'key-visible-4', secret: '' },
      '5': { exchange: 'kraken', apiKey: 'k', secret: 'very-secret-5' },
      '6': { exchange: 'bybit', apiKey: 'key-6', secret: 'very-secret-6', sandbox: 'yes' },
    });
    let error: unknown;
    try {
      loadConfig({ ACCOUNTS_FILE: path }, { trading: tradingConfig });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('ACCOUNTS_FILE: entry "4": secret: expected a non-empty string');
    expect(message).toContain('entry "5"');
    expect(message).toContain('entry "6": sandbox');
    for (const secret of ['key-visible-4', 'very-secret-5', 'very-secret-6']) {
      expect(message).not.toContain(secret);
    }
    const broken = writeAccountsFile('{"4": {"exchange": "bybit", "apiKey": "k", "secret": "s3cr3t-in-broken-json",}');
    expect(() => loadConfig({ ACCOUNTS_FILE: broken }, { trading: tradingConfig })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ ACCOUNTS_FILE: broken }, { trading: tradingConfig })).not.toThrow(/s3cr3t/);
  });
});
