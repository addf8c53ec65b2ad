import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SECRET, mintDevToken } from '@gw/auth';
import { HARD_MAX_FRAME_BYTES } from '@gw/connections';
import { loadConfig } from '@gw/config';
import { adapterSections, builtInAdapters } from '../adapters.js';
import { startTestGateway } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { httpGet, openWebSocket } from '../testing/http.js';
import { probeAdapter } from '../testing/probe-adapter.js';

/**
 * Whatever a client sends, on every protocol and every message type, the gateway answers it (an error, or a
 * documented close) and keeps serving everyone. Runs in this process: an exception escaping any uWS or
 * socket.io callback would end it (and fail the run), so every case is also a proof that nothing escaped.
 */

type Raw = Awaited<ReturnType<typeof openWebSocket>>;

/** `depth` nested JSON arrays: 8,000 levels is 16 KB of text, which made `JSON.stringify` overflow the stack. */
function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Waits until `raw` has received a message matching `predicate` (messages already seen count). */
async function received(raw: Raw, predicate: (message: string) => boolean): Promise<string> {
  let found: string | undefined;
  await expect
    .poll(() => {
      found = raw.messages.find(predicate);
      return found !== undefined;
    })
    .toBe(true);
  return found ?? '';
}

const env = {
  ADMIN_TOKEN: 'hostile-admin',
  // The setting under which the stock protocol used to crash on a nested subscription_type.
  STOCK_MAX_MESSAGE_BYTES: '65536',
  STOCK_MAX_FRAME_BYTES: '65536',
};

describe('hostile input on every protocol', () => {
  let gateway: TestGateway;
  const token = (sub = 4): Promise<string> => mintDevToken({ secret: DEV_SECRET, sub, expiresIn: '1h' });

  /** A Socket.IO session over the raw Engine.IO WebSocket transport: every byte is ours, no client encoder. */
  async function socketIo(): Promise<Raw> {
    const raw = await openWebSocket(`${gateway.wsUrl}/socket.io/?EIO=4&transport=websocket&token=${await token()}`);
    await received(raw, (m) => m.startsWith('0{'));
    raw.socket.send('40');
    await received(raw, (m) => m.startsWith('42["connected"'));
    return raw;
  }

  /** A new client opened by `open` gets the answer `expected` to what `ask` sends (not a close). */
  async function served(open: () => Promise<Raw>, ask: (raw: Raw) => void, expected: (message: string) => boolean): Promise<void> {
    const raw = await open();
    let closed: number | undefined;
    void raw.closed.then((c) => (closed = c.code));
    ask(raw);
    await expect.poll(() => closed !== undefined || raw.messages.some(expected)).toBe(true);
    expect(closed, 'the server closed the new socket instead of answering').toBeUndefined();
    raw.socket.close();
  }

  /** Each protocol serves a new client normally. */
  async function everyoneStillServed(): Promise<void> {
    const auth = { headers: { Authorization: `Bearer ${await token()}` } };
    await served(
      () => openWebSocket(`${gateway.wsUrl}/ws/signals`, auth),
      (raw) => { raw.socket.send('test'); },
      (m) => m.includes('"is_test":true'),
    );
    await served(
      () => openWebSocket(`${gateway.wsUrl}/ws/stock/prices`),
      (raw) => { raw.socket.send('{"type":"ping"}'); },
      (m) => m.includes('"pong"'),
    );
    await served(
      () => socketIo(),
      (raw) => { raw.socket.send('42["subscribe_trading",{"types":["balance"]}]'); },
      (m) => m.startsWith('42["subscribed"'),
    );
    expect((await httpGet(`${gateway.httpUrl}/api/health`)).status).toBe(200);
  }

  beforeAll(async () => {
    const adapters = loadConfig(env, adapterSections);
    gateway = await startTestGateway({ env, adapters: [...builtInAdapters(adapters), probeAdapter] });
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  it('Socket.IO: nested, huge, non-JSON and binary payloads on every event', async () => {
    const client = await socketIo();
    const deep = nested(8_000);
    for (const event of ['subscribe_trading', 'unsubscribe_trading']) {
      client.socket.send(`42["${event}",{"types":${deep}}]`);
      client.socket.send(`42["${event}",{"types":[${deep}]}]`);
      client.socket.send(`42["${event}",{"subscribeTypes":[${deep}, "balance"]}]`);
      client.socket.send(`42["${event}",${deep}]`);
      client.socket.send(`42["${event}","${'x'.repeat(60_000)}"]`);
    }
    client.socket.send(`42["no_such_event",${deep}]`);
    client.socket.send(`42[${deep}]`);
    await expect.poll(() => client.messages.filter((m) => m.startsWith('42["error"')).length).toBeGreaterThanOrEqual(11);
    for (const message of client.messages.filter((m) => m.startsWith('42["error"'))) {
      expect(message.length).toBeLessThan(1_000);
    }
    expect(client.messages.some((m) => m.includes('"code":"invalid_types"'))).toBe(true);
    expect(client.messages.some((m) => m.includes('"code":"bad_request"'))).toBe(true);
    // Still the same session: a valid request is served.
    client.socket.send('42["subscribe_trading",{"types":["pnl"]}]');
    await received(client, (m) => m.startsWith('42["subscribed"'));
    // Not a Socket.IO packet, binary out of place: answered bad_request, and the session goes on.
    for (const hostile of ['42not json', Buffer.from([0xff, 0x00, 0x42]), '42["subscribe_trading",{"types":[}]']) {
      const victim = await socketIo();
      victim.socket.send(hostile);
      await received(victim, (m) => m.startsWith('42["error"') && m.includes('"code":"bad_request"'));
      victim.socket.send('42["subscribe_trading",{"types":["orders"]}]');
      await received(victim, (m) => m.startsWith('42["subscribed"'));
      victim.socket.close();
    }
    // Over SOCKETIO_MAX_MESSAGE_BYTES: uWS ends that session, the node serves on.
    const oversized = await socketIo();
    oversized.socket.send(`42["subscribe_trading","${'y'.repeat(70_000)}"]`);
    await oversized.closed;
    client.socket.close();
    await everyoneStillServed();
  });

  it('stock: nested, huge, non-JSON and binary input on every message type', async () => {
    const client = await openWebSocket(`${gateway.wsUrl}/ws/stock/prices`);
    await received(client, (m) => m.includes('"connected"'));
    const deep = nested(8_000);
    const hostile = [
      `{"type":"subscribe","subscription_type":${deep},"target":"600519"}`,
      `{"type":"unsubscribe","subscription_type":${deep},"target":"600519"}`,
      `{"type":"subscribe","subscription_type":"stock","target":${deep}}`,
      `{"type":${deep}}`,
      `{"type":"ping","extra":${deep}}`,
      deep,
      '{"type": "subscribe", ',
      `{"type":"subscribe","subscription_type":"strategy","target":"${'z'.repeat(50_000)}"}`,
    ];
    for (const text of hostile) {
      client.socket.send(text);
    }
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    await expect.poll(() => client.messages.filter((m) => m.includes('"type":"error"')).length).toBeGreaterThanOrEqual(hostile.length);
    for (const message of client.messages) {
      expect(message.length).toBeLessThan(1_000);
    }
    expect(client.messages.some((m) => m.includes('"unsupported_frame"'))).toBe(true);
    client.socket.send('{"type":"ping"}');
    await received(client, (m) => m.includes('"pong"'));
    client.socket.close();
    await everyoneStillServed();
  });

  it('signals: nested, huge, non-JSON and binary frames', async () => {
    const client = await openWebSocket(`${gateway.wsUrl}/ws/signals`, { headers: { Authorization: `Bearer ${await token()}` } });
    // Within SIGNALS_MAX_FRAME_BYTES (4 KiB): the frame reaches the handler.
    client.socket.send(nested(2_000));
    client.socket.send(`{"type":"refresh_token","token":${nested(1_000)}}`);
    client.socket.send('not json at all');
    client.socket.send(Buffer.from([0, 1, 2]), { binary: true });
    await expect.poll(() => client.messages.length).toBe(4);
    expect(client.messages.map((m) => (JSON.parse(m) as { error: string }).error)).toEqual([
      'unknown_command',
      'unknown_command',
      'unknown_command',
      'binary_not_supported',
    ]);
    client.socket.send('test');
    await received(client, (m) => m.includes('"is_test":true'));
    client.socket.close();
    await everyoneStillServed();
  });

  it('closes a frame over the limit with 1009 at every size up to the hard cap, and serves others meanwhile', async () => {
    const auth = { headers: { Authorization: `Bearer ${await token()}` } };
    for (const size of [4_097, 1_048_576 + 30, HARD_MAX_FRAME_BYTES]) {
      const signals = await openWebSocket(`${gateway.wsUrl}/ws/signals`, auth);
      signals.socket.send('a'.repeat(size));
      expect(await signals.closed, `signals, ${size} bytes`).toEqual({ code: 1009, reason: 'message_too_big' });
      const stock = await openWebSocket(`${gateway.wsUrl}/ws/stock/prices`);
      stock.socket.send('b'.repeat(Math.max(size, 65_537)));
      expect(await stock.closed, `stock, ${size} bytes`).toEqual({ code: 1009, reason: 'message_too_big' });
    }
    await everyoneStillServed();
  });

  it('answers a handler that throws with internal_error, counts it, and keeps the connection', async () => {
    const client = await openWebSocket(`${gateway.wsUrl}/ws/probe`);
    client.socket.send('throw');
    await received(client, (m) => m.includes('"internal_error"'));
    client.socket.send('still here');
    await received(client, (m) => m === 'still here');
    const metrics = (await httpGet(`${gateway.httpUrl}/metrics`)).body;
    expect(metrics).toMatch(/gateway_client_errors_total\{[^}]*code="internal_error"[^}]*\} [1-9]/);
    client.socket.close();
  });
});
