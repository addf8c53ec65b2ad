import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@gw/config';
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
  // These tests are about polling; streams have their own (stream.test.ts).
  TRADING_STREAM: 'off',
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
    fake.setAccount('witness-key', sampleAccount());
    const source = await start({ '11': bybitAccount('watch-key'), '18': bybitAccount('witness-key') });
    // Another account, watched throughout, shows the source at work: three of its polls, none for user 11.
    await source.bus.declareInterest(tradingTopic('18', 'balance'));
    const witnessPolls = (): number => fake.requestsOf('witness-key', '/v5/account/wallet-balance').length;
    await expect.poll(witnessPolls).toBeGreaterThanOrEqual(3);
    expect(fake.requestsOf('watch-key')).toHaveLength(0);

    const lease = await source.bus.declareInterest(tradingTopic('11', 'balance'));
    await expect.poll(() => source.on(tradingTopic('11', 'balance')).length).toBe(1);
    expect(source.on(tradingTopic('11', 'balance'))[0]?.data).toEqual({ total_balance: 10000, available_balance: 8000, used_margin: 2000 });
    await expect.poll(() => fake.requestsOf('watch-key', '/v5/account/wallet-balance').length).toBeGreaterThanOrEqual(3);
    // Only the watched type is fetched.
    expect(fake.requestsOf('watch-key', '/v5/order/realtime')).toHaveLength(0);

    await lease.release();
    // The account is dropped (it leaves the per-mode gauge; the witness stays), then a poll of the witness
    // lets a request already on its way land: from there on, three more witness polls and none for user 11.
    await expect.poll(() => source.metricsText()).toMatch(/gateway_source_mode_accounts\{source="trading",mode="poll"\} 1\n/);
    const dropped = witnessPolls();
    await expect.poll(witnessPolls).toBeGreaterThan(dropped);
    const after = fake.requestsOf('watch-key').length;
    const from = witnessPolls();
    await expect.poll(witnessPolls).toBeGreaterThanOrEqual(from + 3);
    expect(fake.requestsOf('watch-key').length).toBe(after);
  });

  it('publishes only changes (normalized), the latest value kept on the bus', async () => {
    fake.setAccount('change-key', sampleAccount());
    const source = await start({ '12': bybitAccount('change-key') });
    const topic = tradingTopic('12', 'positions');
    await source.bus.declareInterest(topic);
    await expect.poll(() => source.on(topic).length).toBe(1);
    const polls = fake.requestsOf('change-key', '/v5/position/list').length;
    await expect.poll(() => fake.requestsOf('change-key', '/v5/position/list').length).toBeGreaterThan(polls + 2);
    expect(source.on(topic)).toHaveLength(1);
    // Float noise below 1e-8 is not a change; a new mark price is.
    fake.account('change-key').positions[0]!.markPrice = '50500.000000001';
    const noisy = fake.requestsOf('change-key', '/v5/position/list').length;
    await expect.poll(() => fake.requestsOf('change-key', '/v5/position/list').length).toBeGreaterThan(noisy + 2);
    expect(source.on(topic)).toHaveLength(1);
    fake.account('change-key').positions[0]!.markPrice = '50600';
    fake.account('change-key').positions[0]!.unrealisedPnl = '60';
    await expect.poll(() => source.on(topic).length).toBe(2);
    expect((await source.bus.latest(topic))?.data).toEqual(source.on(topic)[1]?.data);
    expect(tradingDataSchemas.positions.parse(source.on(topic)[1]?.data)[0]).toMatchObject({ mark_price: 50600, unrealized_pnl: 60 });
  });
});

describe('trading source: exchange errors', () => {
  it('pauses an account whose key is rejected, reports exchange_auth_failed, and resumes when it works', async () => {
    const source = await start({ '13': bybitAccount('rejected-key') });
    const status = tradingStatusTopic('13');
    await source.bus.declareInterest(tradingTopic('13', 'balance'));
    await expect.poll(() => source.on(status).length).toBe(1);
    const error = tradingStatusSchema.parse(source.on(status)[0]?.data);
    expect(error).toMatchObject({ state: 'error', code: 'exchange_auth_failed' });
    expect(JSON.stringify(error)).not.toContain('rejected-key-secret');
    expect(await source.metricsText()).toMatch(/gateway_source_errors_total\{source="trading",kind="auth"\} [1-9]/);
    // The key becomes valid at once: data flows and the status is cleared, but only after the pause.
    fake.setAccount('rejected-key', sampleAccount());
    await expect.poll(() => source.on(tradingTopic('13', 'balance')).length).toBe(1);
    await expect.poll(() => source.on(status).at(-1)?.data).toEqual({ state: 'ok' });
    const retryAt = error.state === 'error' ? error.retryAt : undefined;
    expect(retryAt).toBeGreaterThan(source.on(status)[0]!.publishedAt);
    expect(source.on(tradingTopic('13', 'balance'))[0]!.publishedAt).toBeGreaterThanOrEqual(retryAt!);
  });

  it('backs off on network and rate-limit errors, keeping the last good value', async () => {
    fake.setAccount('flaky-key', sampleAccount());
    const source = await start({ '14': bybitAccount('flaky-key') });
    const topic = tradingTopic('14', 'balance');
    await source.bus.declareInterest(topic);
    await expect.poll(() => source.on(topic).length).toBe(1);
    const good = source.on(topic)[0]?.data;
    fake.failNext('flaky-key', { kind: 'http', status: 502 }, Number.POSITIVE_INFINITY);
    const failingFrom = fake.requestsOf('flaky-key').length;
    await expect.poll(() => fake.requestsOf('flaky-key').length).toBeGreaterThanOrEqual(failingFrom + 4);
    // Every failure is followed by a backoff of 200 ms, then 400 ms (the cap): without it the account would
    // ask again at its 100 ms interval.
    const failed = fake.requestsOf('flaky-key').slice(failingFrom).map((r) => r.at);
    expect(failed[1]! - failed[0]!).toBeGreaterThanOrEqual(199);
    expect(failed[2]! - failed[1]!).toBeGreaterThanOrEqual(399);
    expect(failed[3]! - failed[2]!).toBeGreaterThanOrEqual(399);
    expect((await source.bus.latest(topic))?.data).toEqual(good);
    expect(source.on(topic)).toHaveLength(1);
    fake.failNext('flaky-key', { kind: 'retCode', retCode: 10006, retMsg: 'Too many visits!' }, 1);
    await expect.poll(() => source.metricsText()).toMatch(/kind="rate_limit"\} [1-9]/);
    expect(await source.metricsText()).toMatch(/gateway_source_errors_total\{source="trading",kind="network"\} [1-9]/);
    fake.account('flaky-key').walletBalance = '10100.00';
    await expect.poll(() => source.on(topic).length).toBe(2);
    expect(source.on(topic)[1]?.data).toMatchObject({ total_balance: 10100 });
  });

  it("never lets one account's slow exchange delay another account", async () => {
    fake.setAccount('slow-key', sampleAccount());
    fake.setAccount('quick-key', sampleAccount());
    // The slow exchange: its balance request gets no answer until the test lets it.
    const answerSlow = fake.hold('/v5/account/wallet-balance', 'slow-key');
    const source = await start({ '15': bybitAccount('slow-key'), '16': bybitAccount('quick-key') });
    await source.bus.declareInterest(tradingTopic('15', 'balance'));
    await expect.poll(() => fake.requestsOf('slow-key', '/v5/account/wallet-balance').length).toBe(1);
    await source.bus.declareInterest(tradingTopic('16', 'balance'));
    await source.bus.declareInterest(tradingTopic('17', 'balance')); // paper
    await expect.poll(() => source.on(tradingTopic('16', 'balance')).length).toBe(1);
    await expect.poll(() => source.on(tradingTopic('17', 'balance')).length).toBeGreaterThanOrEqual(1);
    await expect.poll(() => fake.requestsOf('quick-key', '/v5/account/wallet-balance').length).toBeGreaterThanOrEqual(4);
    // All that while the slow account's one request was still unanswered.
    expect(source.on(tradingTopic('15', 'balance'))).toHaveLength(0);
    expect(fake.requestsOf('slow-key', '/v5/account/wallet-balance')).toHaveLength(1);
    answerSlow();
    await expect.poll(() => source.on(tradingTopic('15', 'balance')).length).toBe(1);
  });
});

describe('trading source: accounts', () => {
  it('gives users without an account a paper account that always has a position and an order', async () => {
    const source = await start({});
    for (const type of ['balance', 'positions', 'pnl', 'orders'] as const) {
      await source.bus.declareInterest(tradingTopic('21', type));
    }
    await expect.poll(() => source.on(tradingTopic('21', 'positions')).length).toBeGreaterThanOrEqual(3);
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
    await expect.poll(() => source.on(tradingStatusTopic('22')).at(-1)?.data).toMatchObject({
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
