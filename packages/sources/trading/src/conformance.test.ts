import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Bus } from '@gw/bus';
import { parseTradingTopic, tradingDataSchemas, tradingStatusSchema, tradingTopic, tradingTopicPrefix, tradingTypes } from '@gw/topics';
import type { z } from 'zod';
import { runSourceConformance } from '@gw/source-testing';
import { tradingSource } from './index.js';
import { sampleAccount, startFakeBybit, writeAccountsFile } from './testing/index.js';

/** `trading.*` carries four data types and the status, each with its own schema, chosen by the topic. */
function tradingSchemaOf(topic: string): z.ZodType | undefined {
  const data = parseTradingTopic(topic);
  if (data !== undefined) {
    return tradingDataSchemas[data.type];
  }
  const parts = topic.slice(tradingTopicPrefix.length).split('.');
  return topic.startsWith(tradingTopicPrefix) && parts.length === 2 && parts[1] === 'status' ? tradingStatusSchema : undefined;
}

const schemas = { 'trading.*': tradingSchemaOf };

const fast = {
  TRADING_BALANCE_INTERVAL_MS: '100',
  TRADING_POSITIONS_INTERVAL_MS: '100',
  TRADING_PNL_INTERVAL_MS: '100',
  TRADING_ORDERS_INTERVAL_MS: '100',
  TRADING_PAPER_TICK_MS: '20',
  TRADING_RETRY_MIN_MS: '50',
  TRADING_RETRY_MAX_MS: '200',
  TRADING_REQUEST_TIMEOUT_MS: '2000',
};

/** The source polls only watched users: user 4 is watched (every type) while the check runs, as a client would. */
async function watchUser4(bus: Bus, signal: AbortSignal): Promise<void> {
  const leases = await Promise.all(tradingTypes.map((type) => bus.declareInterest(tradingTopic('4', type))));
  await new Promise<void>((resolve) => {
    if (signal.aborted) {
      resolve();
    }
    signal.addEventListener('abort', () => {
      resolve();
    }, { once: true });
  });
  await Promise.all(leases.map((lease) => lease.release()));
}

// The default paper account: the simulated exchange moves every 20 ms; the bus is its only upstream.
runSourceConformance('trading (paper account)', () => ({ source: tradingSource, env: fast, schemas, drive: watchUser4 }));

// A Bybit account through ccxt's real bybit class, against the local fake Bybit: its upstream fails by answering
// every private request with HTTP 500, and comes back with the balance moved.
runSourceConformance(
  'trading (ccxt bybit account, fake exchange)',
  async () => {
    const fake = await startFakeBybit();
    fake.setAccount('conformance-key', sampleAccount());
    const accountsFile = writeAccountsFile({
      '4': { exchange: 'bybit', apiKey: 'conformance-key', secret: 'conformance-secret', baseUrl: fake.url },
    });
    return {
      source: tradingSource,
      env: { ...fast, ACCOUNTS_FILE: accountsFile },
      schemas,
      drive: watchUser4,
      upstream: {
        fail: () => {
          fake.failNext('conformance-key', { kind: 'http', status: 500 }, Infinity);
        },
        recover: () => {
          fake.clearFault('conformance-key');
          const account = fake.account('conformance-key');
          account.walletBalance = (Number(account.walletBalance) + 25).toFixed(2);
        },
      },
      close: async () => {
        await fake.close();
        rmSync(dirname(accountsFile), { recursive: true, force: true });
      },
    };
  },
  { upstream: 'the fake Bybit answers every private request with HTTP 500' },
);
