import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedFrameSchema, pongFrameSchema, priceUpdateFrameSchema, subscribedFrameSchema, unsubscribedFrameSchema } from '@gw/adapter-stock';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import { startStockGateway, until } from './harness.js';

/**
 * The legacy stock price service's Python test script's flow (`pip3 install websockets; python3 test_websocket.py`), run by Debian's
 * python3-websockets in a subprocess against a real gateway: connect, read the confirmation, subscribe to
 * volume_wave, read the subscription confirmation, heartbeat, unsubscribe. Debian's interpreter, not whatever
 * `python3` is first on PATH: the package installs into /usr/lib/python3/dist-packages.
 */
const PYTHON = process.env['STOCK_TEST_PYTHON'] ?? '/usr/bin/python3';

const script = String.raw`
import asyncio, json, sys
import websockets

def out(event, data):
    print(json.dumps({"event": event, "data": data}, ensure_ascii=False), flush=True)

async def main(url):
    async with websockets.connect(url) as ws:
        out("open", None)
        out("connected", json.loads(await asyncio.wait_for(ws.recv(), 5)))
        await ws.send(json.dumps({"type": "subscribe", "subscription_type": "strategy", "target": "volume_wave"}))
        out("subscribed", json.loads(await asyncio.wait_for(ws.recv(), 5)))
        out("price_update", json.loads(await asyncio.wait_for(ws.recv(), 5)))
        await ws.send(json.dumps({"type": "ping"}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["type"] == "pong":
                out("pong", message)
                break
        await ws.send(json.dumps({"type": "unsubscribe", "subscription_type": "strategy", "target": "volume_wave"}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if message["type"] == "unsubscribed":
                out("unsubscribed", message)
                break

asyncio.run(main(sys.argv[1]))
`;

function run(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    execFile(PYTHON, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ stdout, stderr, code });
    });
  });
}

describe('the legacy stock price Python websockets client (Debian python3-websockets)', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    const probe = await run(['-c', 'import websockets; print(websockets.__version__)'], 10_000);
    if (probe.code !== 0) {
      throw new Error(`${PYTHON} cannot import websockets (apt-get install -y python3-websockets): ${probe.stderr}`);
    }
    gateway = await startStockGateway(
      { STOCK_PUSH_INTERVAL_MS: '300', STOCK_UNIVERSE_SIZE: '80', STOCK_WAVE_PROBABILITY: '0.05', STOCK_RANDOM_SEED: '5', STOCK_BAR_INTERVAL_MS: '3600000' },
      'market',
    );
    await until(
      async () => ((await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`)).json() as { data: { count: number } }).data.count > 0,
      10_000,
      'a buy list',
    );
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  it('runs the legacy script’s flow unchanged but for host and port', async () => {
    const result = await run(['-c', script, `${gateway.wsUrl}/ws/stock/prices`], 20_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; data: unknown });
    expect(events.map((e) => e.event)).toEqual(['open', 'connected', 'subscribed', 'price_update', 'pong', 'unsubscribed']);
    const [, connected, subscribed, price, pong, unsubscribed] = events.map((e) => e.data);
    expect(connectedFrameSchema.parse(connected).message).toBe('WebSocket连接成功');
    expect(subscribedFrameSchema.parse(subscribed)).toMatchObject({ subscription_type: 'strategy', target: 'volume_wave', message: '订阅成功' });
    expect(priceUpdateFrameSchema.parse(price).count).toBeGreaterThan(0);
    pongFrameSchema.parse(pong);
    expect(unsubscribedFrameSchema.parse(unsubscribed).message).toBe('取消订阅成功');
  });
});
