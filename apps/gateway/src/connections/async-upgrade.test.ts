import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SECRET, mintDevToken } from '@gw/auth';
import { loadConfig } from '@gw/config';
import { adapterSections, builtInAdapters } from '../adapters.js';
import { startTestGateway } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';

/**
 * Every WebSocket upgrade completes after an await (token check, per-user slot; engine.io's handshake). This
 * uWS build can cut such a socket right after its `open` when the upgrade runs under the response's own cork,
 * so upgrades run under the process's upgrade anchor (packages/uws/src/upgrade-cork.ts) — where a request
 * that says `Connection: close` would make uWS build the WebSocket on a closed socket and end the process.
 * Such a request is not a WebSocket handshake: every protocol refuses it with 400 and goes on serving.
 */

/** One masked client text frame (payload under 126 bytes). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

interface RawExchange {
  socket: Socket;
  /** Everything received, as latin1 text. */
  received(): string;
  /** Resolves when the server closed the connection. */
  ended: Promise<void>;
}

/** A hand-made upgrade request with the given `Connection` header; resolves once the response head arrived. */
async function upgradeRequest(port: number, path: string, connection: string, headers: Record<string, string> = {}): Promise<RawExchange> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  const ended = new Promise<void>((resolve) => {
    socket.on('close', () => {
      resolve();
    });
  });
  socket.on('error', () => undefined);
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: ${connection}\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
  await expect.poll(() => text.includes('\r\n\r\n')).toBe(true);
  return { socket, received: () => text, ended };
}

/** Waits until the server's answer contains `expected`, failing at once if the server closed the socket first. */
async function answered(raw: RawExchange, expected: string): Promise<void> {
  let closed = false;
  void raw.ended.then(() => (closed = true));
  await expect.poll(() => closed || raw.received().includes(expected)).toBe(true);
  expect(raw.received(), 'the server closed the freshly upgraded socket').toContain(expected);
  raw.socket.destroy();
}

const statusLineOf = (raw: RawExchange): string => raw.received().split('\r\n')[0] ?? '';

describe('WebSocket upgrades completed after an await', () => {
  let gateway: TestGateway;
  let port: number;
  const token = (): Promise<string> => mintDevToken({ secret: DEV_SECRET, sub: 4, expiresIn: '1h' });

  beforeAll(async () => {
    const env = { ADMIN_TOKEN: 'async-upgrade-admin' };
    gateway = await startTestGateway({ env, adapters: builtInAdapters(loadConfig(env, adapterSections)) });
    port = gateway.ports[0] ?? 0;
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  it('a handshake saying `Connection: close` is refused with 400 on every protocol, and the node serves on', async () => {
    const auth = { Authorization: `Bearer ${await token()}` };
    for (const path of ['/ws/signals', '/ws/stock/prices', `/socket.io/?EIO=4&transport=websocket&token=${await token()}`]) {
      const raw = await upgradeRequest(port, path, 'close', auth);
      expect(statusLineOf(raw), path).toBe('HTTP/1.1 400 Bad Request');
      raw.socket.destroy();
    }
    expect(gateway.clients.size).toBe(0);
  });

  it('signals: upgraded after the token check, the socket is served (`test`)', async () => {
    const raw = await upgradeRequest(port, '/ws/signals', 'Upgrade', { Authorization: `Bearer ${await token()}` });
    expect(statusLineOf(raw)).toBe('HTTP/1.1 101 Switching Protocols');
    raw.socket.write(textFrame('test'));
    await answered(raw, '"is_test":true');
  });

  it('stock prices: upgraded after admission, the socket is served (ping)', async () => {
    const raw = await upgradeRequest(port, '/ws/stock/prices', 'keep-alive, Upgrade');
    expect(statusLineOf(raw)).toBe('HTTP/1.1 101 Switching Protocols');
    raw.socket.write(textFrame('{"type":"ping"}'));
    await answered(raw, '"pong"');
  });

  it('Socket.IO (engine.io upgrades by itself): the session opens and connects', async () => {
    const raw = await upgradeRequest(port, `/socket.io/?EIO=4&transport=websocket&token=${await token()}`, 'Upgrade');
    expect(statusLineOf(raw)).toBe('HTTP/1.1 101 Switching Protocols');
    await expect.poll(() => raw.received().includes('0{')).toBe(true);
    raw.socket.write(textFrame('40'));
    await answered(raw, '42["connected"');
  });
});
