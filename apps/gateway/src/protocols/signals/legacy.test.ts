import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { TestGateway } from '../../testing/gateway.js';
import { publishSignal, startSignalsGateway, token } from './fixture.js';

/** The legacy signal service's own client examples, pointed at the gateway by changing only host and port. */
describe('the legacy signal service examples', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startSignalsGateway({});
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  it('the JavaScript `ws` example receives signals and test data', async () => {
    const lines: string[] = [];
    const console = { log: (...args: unknown[]) => lines.push(args.map(String).join(' ')) };
    // --- the legacy signal service's example, with its URL replaced by the gateway's host and port ---
    const socket = new WebSocket(`ws://127.0.0.1:${gateway.ports[0]}`, {
      headers: {
        Authorization: `Bearer ${await token()}`,
      },
    });
    socket.addEventListener('open', () => {
      console.log('connected to the WebSocket server');
    });
    socket.addEventListener('message', (event) => {
      const data = JSON.parse(event.data as string) as { type: string; content: { symbol: string; price: number } };
      if (data.type === 'buy') {
        console.log(`buy signal: ${data.content.symbol}, price: ${data.content.price}`);
      } else if (data.type === 'sell') {
        console.log(`sell signal: ${data.content.symbol}, price: ${data.content.price}`);
      }
    });
    function requestTestData(): void {
      socket.send('test');
    }
    // --- end of the legacy example's code ---
    await expect.poll(() => lines).toContain('connected to the WebSocket server');
    await publishSignal(gateway, { type: 'sell', content: { symbol: 'ETHUSDT', price: 3200.5 } });
    await expect.poll(() => lines).toContain('sell signal: ETHUSDT, price: 3200.5');
    requestTestData();
    await expect.poll(() => lines).toContain('buy signal: BTCUSDT, price: 75000');
    socket.close();
  });

  it('the Python websocket-client example (Debian python3-websocket) receives signals and test data', async () => {
    const script = fileURLToPath(new URL('legacy/websocket_client.py', import.meta.url));
    const child = spawn('/usr/bin/python3', [script, `ws://127.0.0.1:${gateway.ports[0]}`, await token()]);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await expect.poll(() => output, { timeout: 15_000 }).toContain('WebSocket connection established');
    await publishSignal(gateway, { type: 'buy', content: { symbol: 'BTCUSDT', price: 75000.0, timestamp: 1720000000 } });
    await expect.poll(() => output, { timeout: 15_000 }).toContain('buy signal: BTCUSDT, price: 75000');
    // "test" is sent 2 s after on_open: a test signal with is_test True comes back.
    await expect.poll(() => output, { timeout: 15_000 }).toContain("'is_test': True");
    expect(await exited).toBe(0);
    expect(output).not.toContain('WebSocket error');
  });
});
