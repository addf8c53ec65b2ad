import { mintDevToken } from '@gw/auth';
import { sampleAccount, startFakeBybit, startFakeBybitStream, writeAccountsFile } from '@gw/source-trading/testing';
import type { FakeBybitExchange } from '@gw/source-trading/testing';
import { WebSocket } from 'ws';
import { BENCH_JWT_SECRET, loadName, scaled, seconds, withGateway } from '../context.js';
import type { BenchContext } from '../context.js';
import { scrape, sumOf } from '../prometheus.js';
import { sampleProc } from '../proc.js';
import { recordCpuSplit } from '../row.js';
import type { Row } from '../row.js';
import type { Scenario } from './scenario.js';

/** How the gateway's trading source gets the accounts' data in a run. */
type Mode = 'stream' | 'poll';

/** Accounts (and users) of the full run. */
const FULL_USERS = 500;

/** The polling intervals users get today (the defaults): the fallback mode is measured as it would run. */
const BALANCE_INTERVAL_MS = 10_000;

/** Upper bounds of the phases, so a stuck gateway or exchange ends the scenario instead of hanging it. */
const CONNECT_TIMEOUT_MS = 120_000;
const READY_TIMEOUT_MS = 180_000;

/** A minimal Socket.IO v4 client (engine.io over one WebSocket) subscribed to one user's balance. */
interface BalanceClient {
  close(): void;
}

/**
 * Connects as one user (JWT in the handshake's `auth`, as the legacy trading service's clients do), subscribes to
 * `balance` and hands every `balance_update` to `onUpdate` with its receipt time. Resolves once connected;
 * rejects when the gateway refuses the connection.
 */
function connectBalanceClient(gatewayWs: string, token: string, onUpdate: (data: unknown, receivedAt: number) => void): Promise<BalanceClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${gatewayWs}/socket.io/?EIO=4&transport=websocket`);
    const client: BalanceClient = {
      close: () => {
        socket.close();
      },
    };
    socket.on('error', reject);
    socket.on('message', (raw: Buffer) => {
      const receivedAt = Date.now();
      const text = raw.toString('utf8');
      if (text === '2') {
        socket.send('3');
      } else if (text.startsWith('0')) {
        socket.send(`40${JSON.stringify({ token })}`);
      } else if (text.startsWith('40')) {
        socket.send('42["subscribe_trading",{"types":["balance"]}]');
        resolve(client);
      } else if (text.startsWith('44')) {
        reject(new Error(`gateway refused the connection: ${text.slice(2)}`));
      } else if (text.startsWith('42')) {
        const [event, data] = JSON.parse(text.slice(2)) as [string, unknown];
        if (event === 'balance_update') {
          onUpdate(data, receivedAt);
        }
      }
    });
  });
}

/** Waits until `condition` holds, checking every 100 ms; throws `what` after `timeoutMs`. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${String(timeoutMs / 1000)} s waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const apiKeyOf = (user: number): string => `bench-stream-${String(user)}`;

/** The wallet balance of change n of an account is BASE_BALANCE + n / 100: the balance names the change. */
const BASE_BALANCE = 20_000;

/** `users` Bybit accounts on the fake exchange, with the accounts file the gateway reads. */
function accountsFor(exchange: FakeBybitExchange, users: number): string {
  const accounts: Record<string, unknown> = {};
  for (let user = 1; user <= users; user += 1) {
    const apiKey = apiKeyOf(user);
    const secret = `${apiKey}-secret`;
    exchange.rest.setAccount(apiKey, { ...sampleAccount(), secret });
    accounts[String(user)] = { exchange: 'bybit', apiKey, secret, baseUrl: exchange.rest.url, streamBaseUrl: exchange.streamUrl };
  }
  return writeAccountsFile(accounts);
}

/**
 * One run: `users` accounts on the fake Bybit (REST and private WebSocket), a Socket.IO client per user watching
 * its balance, and every account's wallet changed once a second (spread evenly over the second). Each change
 * gets a balance of its own, so the client's `balance_update` names the change it shows: latency is the
 * exchange event (the change, on this process's clock) → the client's receipt of that change or a later one
 * (same clock), for every change. A poll shows only the latest change of its interval: the earlier ones become
 * visible with it.
 */
async function measure(ctx: BenchContext, mode: Mode): Promise<Row> {
  const users = scaled(ctx, FULL_USERS);
  const windowS = seconds(ctx, 30, 6);
  const exchange = await startFakeBybitStream(await startFakeBybit());
  try {
    const accountsFile = accountsFor(exchange, users);
    const env = {
      SOURCES: 'trading',
      ACCOUNTS_FILE: accountsFile,
      TRADING_STREAM: mode === 'stream' ? 'on' : 'off',
      TRADING_BALANCE_INTERVAL_MS: String(BALANCE_INTERVAL_MS),
    };
    return await withGateway(ctx, env, async (gateway) => {
      /** Per user, the changes the client has not seen yet (neither them nor a later one), oldest first. */
      const unseen = new Map<number, { n: number; at: number }[]>();
      const latenciesMs: number[] = [];
      const firstUpdate = new Set<number>();
      let measuring = false;
      let deliveries = 0;
      const onUpdate = (data: unknown, receivedAt: number): void => {
        const push = data as { user_id: number; data: { total_balance: number } };
        firstUpdate.add(push.user_id);
        if (!measuring) {
          return;
        }
        deliveries += 1;
        // The balance names the change shown: that change and every earlier one are now visible to the user.
        const n = Math.round((push.data.total_balance - BASE_BALANCE) * 100);
        const pending = unseen.get(push.user_id) ?? [];
        for (let oldest = pending[0]; oldest !== undefined && oldest.n <= n; oldest = pending[0]) {
          pending.shift();
          latenciesMs.push(receivedAt - oldest.at);
        }
      };
      ctx.log(`trading-stream (${mode}): ${String(users)} accounts on the fake Bybit, ${String(users)} Socket.IO users, balance`);
      const clients: BalanceClient[] = [];
      try {
        const connectBy = Date.now() + CONNECT_TIMEOUT_MS;
        for (let user = 1; user <= users; user += 1) {
          if (Date.now() > connectBy) {
            throw new Error('connecting the users took too long');
          }
          const token = await mintDevToken({ secret: BENCH_JWT_SECRET, sub: user, expiresIn: '2h' });
          clients.push(await connectBalanceClient(gateway.ws, token, onUpdate));
        }
        await until(() => firstUpdate.size === users, READY_TIMEOUT_MS, 'every user\'s first balance');
        if (mode === 'stream') {
          await until(
            async () => sumOf(await scrape(`${gateway.http}/metrics`), 'gateway_source_mode_accounts', { source: 'trading', mode: 'stream' }) === users,
            READY_TIMEOUT_MS,
            'every account streaming',
          );
        }
        // Every account changes once a second, spread evenly: at most a tick every 10 ms, each changing the next few.
        const tickMs = Math.max(10, Math.round(1000 / users));
        const perTick = Math.max(1, Math.round((users * tickMs) / 1000));
        const seq = new Map<number, number>();
        let next = 1;
        let events = 0;
        const change = (): void => {
          for (let i = 0; i < perTick; i += 1) {
            const user = next;
            next = next === users ? 1 : next + 1;
            const n = (seq.get(user) ?? 0) + 1;
            seq.set(user, n);
            const balance = BASE_BALANCE + n / 100;
            const at = Date.now();
            const pending = unseen.get(user) ?? [];
            pending.push({ n, at });
            unseen.set(user, pending);
            exchange.setWallet(apiKeyOf(user), balance, balance - 2_000);
            events += 1;
          }
        };
        const before = sampleProc(gateway.process.pid);
        const benchCpuBefore = process.cpuUsage();
        const startedAt = performance.now();
        measuring = true;
        const ticker = setInterval(change, tickMs);
        await new Promise((resolve) => setTimeout(resolve, windowS * 1000));
        clearInterval(ticker);
        // The last changes still travel: a stream's within a moment, a poll's within one interval.
        await new Promise((resolve) => setTimeout(resolve, mode === 'stream' ? 2_000 : BALANCE_INTERVAL_MS + 2_000));
        measuring = false;
        const elapsedS = (performance.now() - startedAt) / 1000;
        const after = sampleProc(gateway.process.pid);
        const benchCpu = process.cpuUsage(benchCpuBefore);
        const neverShown = [...unseen.values()].reduce((sum, pending) => sum + pending.length, 0);
        const sorted = [...latenciesMs].sort((a, b) => a - b);
        const cpuS = before !== undefined && after !== undefined ? after.userS + after.systemS - before.userS - before.systemS : undefined;
        const restRequests = exchange.rest.requests.length;
        const row: Row = {
          scenario: loadName(ctx, `trading-${mode}`, FULL_USERS),
          server: 'gateway',
          shape: `${String(users)} Bybit accounts × 1 change/s (${mode === 'stream' ? 'exchange stream' : `polled every ${String(BALANCE_INTERVAL_MS / 1000)} s`})`,
          conns: clients.length,
          connsFailed: 0,
          deliveriesPerS: deliveries / elapsedS,
          offeredPerS: events / windowS,
          ratio: events > 0 ? deliveries / events : undefined,
          toolCpuCores: (benchCpu.user + benchCpu.system) / 1e6 / elapsedS,
          serverCpuPerMillion: cpuS === undefined || deliveries === 0 ? undefined : (cpuS / deliveries) * 1e6,
          serverCpuCores: cpuS === undefined ? undefined : cpuS / elapsedS,
          notes: [
            'latency: exchange event (the fake Bybit changes the wallet) → the Socket.IO client shows it (a balance_update with that change or a later one), both on the bench process clock',
            mode === 'stream'
              ? 'each change is pushed by the fake exchange on the account\'s private stream (wallet topic) and published by the trading source as it arrives'
              : `each account is polled every ${String(BALANCE_INTERVAL_MS / 1000)} s (the default): a poll shows only its interval's latest change (ratio = balance_updates received / changes made)`,
            `the fake exchange, the change generator and the ${String(users)} clients run in the bench process (load-tool cores) on the same 2-core machine as the gateway`,
          ],
          facts: {
            mode,
            window_s: windowS,
            exchange_events: events,
            deliveries,
            changes_never_shown: neverShown,
            rest_requests_total: restRequests,
            gateway_cpu_us_per_delivery: cpuS === undefined || deliveries === 0 ? Number.NaN : Number(((cpuS / deliveries) * 1e6).toFixed(0)),
          },
          command: [],
        };
        if (sorted.length > 0) {
          row.latency = { p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted.at(-1) ?? Number.NaN, source: 'client' };
        }
        recordCpuSplit(row, before, after);
        return row;
      } finally {
        for (const client of clients) {
          client.close();
        }
      }
    });
  } finally {
    await exchange.close();
    await exchange.rest.close();
  }
}

/**
 * Trading data from the exchange's own streams against today's polling: the same accounts, changes and clients,
 * once with the trading source streaming every account and once polling them (`TRADING_STREAM=off`).
 */
export const tradingStream: Scenario = {
  name: 'trading-stream',
  description: 'trading from Bybit private streams vs polling: 500 accounts on the fake exchange, 1 change/account/s, exchange event → client receipt',
  run: async (ctx) => [await measure(ctx, 'stream'), await measure(ctx, 'poll')],
};
