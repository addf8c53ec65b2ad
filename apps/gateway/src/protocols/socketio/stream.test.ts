import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pushSchemas } from '@gw/adapter-socketio';
import { sampleAccount, startFakeBybit, startFakeBybitStream, writeAccountsFile } from '@gw/source-trading/testing';
import type { FakeBybitExchange } from '@gw/source-trading/testing';
import type { TestGateway } from '../../testing/gateway.js';
import { metricValue, startTradingGateway, token } from './harness.js';

/**
 * Exchange streams through the whole gateway: ccxt's real pro.bybit → the fake Bybit v5 private WebSocket (and
 * REST for snapshots) → trading source → bus → Socket.IO → the legacy python-socketio client. Polling
 * intervals are ten minutes: whatever reaches the client after its first snapshot came from the stream.
 */
const PYTHON = process.env['SOCKETIO_TEST_PYTHON'] ?? '/usr/bin/python3';

/** Subscribes to the given types and prints every trading event as one JSON line, until stdin closes. */
const client = String.raw`
import json, sys, threading
import socketio

url, token, types = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sio = socketio.Client(reconnection=False)
lock = threading.Lock()

def out(event, data):
    with lock:
        sys.stdout.write(json.dumps({"event": event, "data": data}, ensure_ascii=False) + "\n")
        sys.stdout.flush()

@sio.event
def connected(data):
    out("connected", data)
    sio.emit("subscribe_trading", {"types": types})

for name in ["subscribed", "balance_update", "positions_update", "pnl_update", "orders_update", "error"]:
    sio.on(name, (lambda n: lambda data: out(n, data))(name))

sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
threading.Thread(target=lambda: (sys.stdin.read(), sio.disconnect()), daemon=True).start()
sio.wait()
`;

interface PythonClient {
  events: { event: string; data: unknown; at: number }[];
  of(event: string): unknown[];
  close(): Promise<void>;
}

async function pythonClient(gateway: TestGateway, sub: number, types: string[]): Promise<PythonClient> {
  const child: ChildProcess = spawn(PYTHON, ['-c', client, gateway.httpUrl, await token(sub), types.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const events: PythonClient['events'] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const parsed = JSON.parse(line) as { event: string; data: unknown };
    events.push({ ...parsed, at: Date.now() });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    resolve();
  }));
  return {
    events,
    of: (event) => events.filter((e) => e.event === event).map((e) => e.data),
    async close() {
      child.stdin?.end();
      await exited;
    },
  };
}

const slow = {
  TRADING_BALANCE_INTERVAL_MS: '600000',
  TRADING_POSITIONS_INTERVAL_MS: '600000',
  TRADING_PNL_INTERVAL_MS: '600000',
  TRADING_ORDERS_INTERVAL_MS: '600000',
  TRADING_STREAM_SAFETY_POLL_MS: '600000',
  TRADING_STREAM_RETRY_MIN_MS: '100',
  TRADING_STREAM_RETRY_MAX_MS: '400',
  TRADING_STREAM_LINGER_MS: '100',
};
const wait = { timeout: 15_000, interval: 20 };
const orderIds = (message: unknown): string[] => pushSchemas.orders_update.parse(message).data.map((o) => o.order_id);

describe('Socket.IO trading from the exchange stream (python-socketio client)', { timeout: 60_000 }, () => {
  let gateway: TestGateway;
  let exchange: FakeBybitExchange;
  const clients: PythonClient[] = [];

  beforeAll(async () => {
    exchange = await startFakeBybitStream(await startFakeBybit());
    const account = (apiKey: string, secret = `${apiKey}-secret`) => {
      exchange.rest.setAccount(apiKey, { ...sampleAccount(), secret });
      return { exchange: 'bybit', apiKey, secret, baseUrl: exchange.rest.url, streamBaseUrl: exchange.streamUrl };
    };
    const refused = { ...account('refused-key', 'the-real-secret'), secret: 'a-wrong-secret' };
    const accounts = writeAccountsFile({ '80': account('push-key'), '81': account('drop-key'), '82': refused, '83': account('other-key') });
    gateway = await startTradingGateway({ ...slow, ACCOUNTS_FILE: accounts, TRADING_PNL_TZ: 'UTC' });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await gateway.shutdown();
    await exchange.close();
    await exchange.rest.close();
  });

  async function connect(sub: number, types: string[]): Promise<PythonClient> {
    const c = await pythonClient(gateway, sub, types);
    clients.push(c);
    return c;
  }

  it('delivers an order placed on the exchange before any poll could have fetched it', async () => {
    const c = await connect(80, ['orders']);
    await expect.poll(() => c.of('orders_update').length, wait).toBe(1);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'push-key'), wait).toBe(1);
    await expect.poll(() => metricValue(gateway, /gateway_source_mode_accounts\{[^}]*mode="stream"[^}]*\} (\d+)/), wait).toBeGreaterThanOrEqual(1);
    // From here every REST open-orders request waits unanswered (the snapshot taken when the stream went live
    // may still be on its way): whatever brings the new order to the client is the stream.
    const releaseRest = exchange.rest.hold('/v5/order/realtime');
    try {
      const placedAt = exchange.placeOrder('push-key', { orderId: 'pushed-1', symbol: 'ETHUSDT', side: 'Sell', qty: '1', price: '3300' });
      await expect.poll(() => c.of('orders_update').length, wait).toBe(2);
      expect(orderIds(c.of('orders_update')[1])).toEqual(['123456', 'pushed-1']);
      const receivedAt = c.events.filter((e) => e.event === 'orders_update')[1]!.at;
      console.info(`exchange event → python client: ${String(receivedAt - placedAt)} ms`);
    } finally {
      releaseRest();
    }
  });

  it('reconnects a dropped stream; the snapshot brings the change made while it was down', async () => {
    const c = await connect(81, ['orders']);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'drop-key'), wait).toBe(1);
    await expect.poll(() => c.of('orders_update').length, wait).toBeGreaterThanOrEqual(1);
    exchange.socket.refuseConnections(true);
    exchange.socket.drop('drop-key');
    exchange.placeOrder('drop-key', { orderId: 'while-down', symbol: 'SOLUSDT', side: 'Buy', qty: '10', price: '150' });
    exchange.socket.refuseConnections(false);
    await expect.poll(() => c.of('orders_update').map(orderIds).some((ids) => ids.includes('while-down')), wait).toBe(true);
    await expect.poll(() => exchange.socket.authenticated('drop-key'), wait).toBe(1);
  });

  it('falls back to polling when the stream auth is refused, and the client still gets every type', async () => {
    const c = await connect(82, ['balance', 'positions', 'pnl', 'orders']);
    for (const event of ['balance_update', 'positions_update', 'pnl_update', 'orders_update']) {
      await expect.poll(() => c.of(event).length, wait).toBeGreaterThanOrEqual(1);
    }
    await expect.poll(() => exchange.socket.ops.some((op) => op.op === 'auth' && op.args[0] === 'refused-key'), wait).toBe(true);
    expect(exchange.socket.authenticated('refused-key')).toBe(0);
    await expect.poll(() => metricValue(gateway, /gateway_source_mode_accounts\{[^}]*mode="poll"[^}]*\} (\d+)/), wait).toBeGreaterThanOrEqual(1);
  });

  it("never shows one user another's data, and closes a user's stream when the last watcher leaves", async () => {
    const mine = await connect(80, ['orders']);
    const other = await connect(83, ['orders']);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'other-key'), wait).toBe(1);
    await expect.poll(() => mine.of('orders_update').length, wait).toBeGreaterThanOrEqual(1);
    await expect.poll(() => other.of('orders_update').length, wait).toBeGreaterThanOrEqual(1);
    exchange.placeOrder('other-key', { orderId: 'other-only', symbol: 'BTCUSDT', side: 'Buy', qty: '0.3', price: '47000' });
    await expect.poll(() => other.of('orders_update').map(orderIds).some((ids) => ids.includes('other-only')), wait).toBe(true);
    expect(JSON.stringify(mine.events)).not.toContain('other-only');
    expect(mine.of('orders_update').every((m) => pushSchemas.orders_update.parse(m).user_id === 80)).toBe(true);

    await other.close();
    clients.splice(clients.indexOf(other), 1);
    await expect.poll(() => exchange.socket.authenticated('other-key'), wait).toBe(0);
  });
});
