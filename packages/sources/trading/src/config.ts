import { z } from 'zod';
import { defineConfigSection, envInt, envMs, environmentConfig } from '@gw/config';
import type { SectionOutput } from '@gw/config';
import { AccountsFileError, loadAccounts } from './accounts.js';

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const interval = (defaultMs: number) => envMs(86_400_000).min(50, { error: 'expected at least 50 ms' }).default(defaultMs);

/**
 * Settings of the trading source. `ACCOUNTS_FILE` is read and validated here, at startup, so a bad file fails
 * the process with one message naming each bad entry and field (never a value); the source reads it again when
 * it starts.
 */
export const tradingConfig = defineConfigSection({
  name: 'trading',
  schema: z.object({
    accountsFile: z
      .string()
      .superRefine((path, ctx) => {
        try {
          loadAccounts(path);
        } catch (error) {
          const problems = error instanceof AccountsFileError ? error.problems : ['cannot be loaded'];
          for (const problem of problems) {
            ctx.addIssue({ code: 'custom', message: problem });
          }
        }
      })
      .optional(),
    defaultAccount: z.enum(['paper', 'none'], { error: 'expected paper or none' }).optional(),
    balanceIntervalMs: interval(10_000),
    positionsIntervalMs: interval(5_000),
    pnlIntervalMs: interval(5_000),
    ordersIntervalMs: interval(15_000),
    settleCoin: z.string().regex(/^[A-Z0-9]{2,10}$/, { error: 'expected a coin code such as USDT' }).default('USDT'),
    pnlTimeZone: z.string().refine(isTimeZone, { error: 'expected an IANA time zone such as Asia/Shanghai' }).default('Asia/Shanghai'),
    pnlHistoryDays: envInt(1, 7).default(7),
    maxConcurrency: envInt(1, 1_000).default(8),
    requestTimeoutMs: envMs(300_000).min(100).default(10_000),
    retryMinMs: envMs(3_600_000).min(10).default(1_000),
    retryMaxMs: envMs(3_600_000).min(10).default(60_000),
    authPauseMs: envMs(86_400_000).min(10).default(60_000),
    authPauseMaxMs: envMs(86_400_000).min(10).default(3_600_000),
    paperTickMs: envMs(3_600_000).min(10).default(1_000),
    stream: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
    streamSafetyPollMs: interval(60_000),
    streamRetryMinMs: envMs(3_600_000).min(10).default(1_000),
    streamRetryMaxMs: envMs(86_400_000).min(10).default(300_000),
    streamMaxFailures: envInt(1, 100).default(3),
    streamLingerMs: envMs(3_600_000).default(5_000),
  }),
  env: {
    ACCOUNTS_FILE: 'accountsFile',
    TRADING_DEFAULT_ACCOUNT: 'defaultAccount',
    TRADING_BALANCE_INTERVAL_MS: 'balanceIntervalMs',
    TRADING_POSITIONS_INTERVAL_MS: 'positionsIntervalMs',
    TRADING_PNL_INTERVAL_MS: 'pnlIntervalMs',
    TRADING_ORDERS_INTERVAL_MS: 'ordersIntervalMs',
    TRADING_SETTLE_COIN: 'settleCoin',
    TRADING_PNL_TZ: 'pnlTimeZone',
    TRADING_PNL_HISTORY_DAYS: 'pnlHistoryDays',
    TRADING_MAX_CONCURRENCY: 'maxConcurrency',
    TRADING_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
    TRADING_RETRY_MIN_MS: 'retryMinMs',
    TRADING_RETRY_MAX_MS: 'retryMaxMs',
    TRADING_AUTH_PAUSE_MS: 'authPauseMs',
    TRADING_AUTH_PAUSE_MAX_MS: 'authPauseMaxMs',
    TRADING_PAPER_TICK_MS: 'paperTickMs',
    TRADING_STREAM: 'stream',
    TRADING_STREAM_SAFETY_POLL_MS: 'streamSafetyPollMs',
    TRADING_STREAM_RETRY_MIN_MS: 'streamRetryMinMs',
    TRADING_STREAM_RETRY_MAX_MS: 'streamRetryMaxMs',
    TRADING_STREAM_MAX_FAILURES: 'streamMaxFailures',
    TRADING_STREAM_LINGER_MS: 'streamLingerMs',
  },
  // The environment sets the default of TRADING_DEFAULT_ACCOUNT.
  uses: { environment: environmentConfig },
  docs: {
    accountsFile: 'JSON file: user id → {exchange: "bybit"|"paper", apiKey, secret, sandbox?, options?, baseUrl?, stream?, streamBaseUrl?}. stream: false polls only; streamBaseUrl replaces the exchange WebSocket host. Validated at startup.',
    defaultAccount: 'Users without an account: paper (a simulated account) or none (error no_account). Default: paper, none when GATEWAY_ENV=production.',
    balanceIntervalMs: 'Balance refresh interval (default 10000).',
    positionsIntervalMs: 'Positions refresh interval (default 5000).',
    pnlIntervalMs: 'PnL refresh interval (default 5000).',
    ordersIntervalMs: 'Open orders refresh interval (default 15000).',
    settleCoin: 'Settlement coin of the balance and of the linear contracts fetched (default USDT).',
    pnlTimeZone: 'Time zone whose midnight starts "today" for today_pnl (default Asia/Shanghai).',
    pnlHistoryDays: 'Closed-PnL window summed into realized_pnl, in days (1-7, default 7: one Bybit query).',
    maxConcurrency: 'Requests in flight per exchange (each account is also serial: one request at a time).',
    requestTimeoutMs: 'Timeout of one exchange request (ccxt timeout, default 10000).',
    retryMinMs: 'First backoff after a network or rate-limit error of an account (doubles; default 1000).',
    retryMaxMs: 'Longest such backoff (default 60000).',
    authPauseMs: 'Pause of an account whose key the exchange rejects (doubles; default 60000).',
    authPauseMaxMs: 'Longest such pause (default 3600000).',
    paperTickMs: 'Step of the simulated paper market (default 1000).',
    stream: 'on: accounts on an exchange with a private stream (Bybit) get pushes from it, polling only as the fallback; off: poll every account (default on).',
    streamSafetyPollMs: 'While an account streams: REST re-check of each watched type, to catch drift (default 60000).',
    streamRetryMinMs: 'First wait before reconnecting a failed stream (doubles; default 1000).',
    streamRetryMaxMs: 'Longest such wait (default 300000).',
    streamMaxFailures: 'Stream failures in a row (network) before the account polls at its intervals until the stream is back (default 3; a refused auth: at once).',
    streamLingerMs: 'How long a stream stays open after its last watcher left (default 5000).',
  },
});

export type TradingConfig = SectionOutput<typeof tradingConfig>;
