import { connect as connectTcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalFrameSchema } from '@gw/adapter-signals';
import { formatMessageId, parseMessageId } from '@gw/bus';
import type { Envelope } from '@gw/bus';
import { signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import {
  ADMIN_TOKEN,
  busVariants,
  buy,
  connect,
  connectWithToken,
  countingReader,
  publishSignal,
  refusedUpgrade,
  stalledReader,
  startSignalsGateway,
  token,
} from './fixture.js';

const history = { maxLength: 5_000, maxAgeMs: 3_600_000 };

describe.each(busVariants)('signal protocol on the $name', ({ env }) => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startSignalsGateway({ ...env, SIGNAL_HISTORY_SIZE: '5000', SIGNALS_MAX_MESSAGES_PER_S: '50' });
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  const append = (symbol: string, price = 1): Promise<unknown> =>
    gateway.bus.append<Signal>(signalsTopic, { type: 'buy', content: { symbol, price, timestamp: 1_720_000_000 }, source: 'crypto-signals' }, history);

  describe('handshake', () => {
    it('refuses each bad token with 401 and the reason, before the WebSocket opens, and counts it', async () => {
      const url = `${gateway.wsUrl}/ws/signals`;
      const cases: [string, Promise<{ status: number; body: string }>][] = [
        ['missing', refusedUpgrade(url)],
        ['malformed', refusedUpgrade(url, { headers: { Authorization: 'Bearer not-a-jwt' } })],
        ['expired', token(4, -60).then((t) => refusedUpgrade(url, { headers: { Authorization: `Bearer ${t}` } }))],
        [
          'bad_signature',
          token(4).then((t) => refusedUpgrade(`${url}?token=${t.slice(0, -4)}AAAA`)),
        ],
        [
          'wrong_algorithm',
          refusedUpgrade(`${url}?token=${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"4"}').toString('base64url')}.`),
        ],
      ];
      for (const [reason, refused] of cases) {
        const { status, body } = await refused;
        expect(status, reason).toBe(401);
        expect(JSON.parse(body), reason).toMatchObject({ code: 401, error: reason === 'expired' ? 'token_expired' : 'unauthorized', reason });
      }
      const metrics = (await httpGet(`${gateway.httpUrl}/metrics`)).body;
      for (const [reason] of cases) {
        expect(metrics).toMatch(new RegExp(`gateway_auth_failures_total\\{[^}]*protocol="signals",reason="${reason}"[^}]*\\} [1-9]`));
      }
    });

    it('accepts the token in the Authorization header (at / and /ws/signals) and in ?token=', async () => {
      const atRoot = await connectWithToken(gateway, '', '/');
      const atPath = await connectWithToken(gateway);
      const byQuery = await connect(`${gateway.wsUrl}/?token=${await token(7)}`);
      for (const client of [atRoot, atPath, byQuery]) {
        client.socket.close();
      }
    });

    it('refuses a malformed ?symbols= list with 400 naming the bad item', async () => {
      const { status, body } = await refusedUpgrade(`${gateway.wsUrl}/ws/signals?symbols=BTCUSDT,not%20ok&token=${await token()}`);
      expect(status).toBe(400);
      expect(JSON.parse(body)).toMatchObject({ error: 'bad_request', message: expect.stringContaining('"not ok"') as unknown });
    });
  });

  describe('delivery', () => {
    it('delivers a published signal to each of 50 clients exactly once, in the legacy signal frame shape with an id', async () => {
      const clients = await Promise.all(Array.from({ length: 50 }, () => connectWithToken(gateway)));
      const latencyCount = async (): Promise<number> =>
        Number(/gateway_delivery_latency_seconds_count\{[^}]*protocol="signals"[^}]*\} (\d+)/.exec((await httpGet(`${gateway.httpUrl}/metrics`)).body)?.[1] ?? 0);
      const observedBefore = await latencyCount();
      const published = await publishSignal(gateway, { type: 'sell', content: { symbol: 'ETHUSDT', price: 3150.5, timestamp: 1_720_000_123 } });
      expect(published.status).toBe(201);
      expect(published.json).toMatchObject({ type: 'sell', content: { symbol: 'ETHUSDT', price: 3150.5, timestamp: 1_720_000_123 }, is_test: false });
      const id = published.json['id'];
      expect(typeof id).toBe('string');
      await expect.poll(() => clients.every((c) => c.signals().length >= 1)).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      for (const client of clients) {
        expect(client.signals()).toEqual([published.json]);
        expect(signalFrameSchema.parse(client.signals()[0])).toBeTruthy();
        client.socket.close();
      }
      // One fan-out, one delivery-latency observation (taken once uWS wrote it).
      await expect.poll(latencyCount).toBe(observedBefore + 1);
    });

    it('answers the text frame "test" with a test signal to that client alone', async () => {
      const [asker, other] = await Promise.all([connectWithToken(gateway), connectWithToken(gateway)]);
      asker.socket.send('test');
      await expect.poll(() => asker.frames.length).toBe(1);
      expect(asker.frames[0]).toMatchObject({ type: 'buy', content: { symbol: 'BTCUSDT', price: 75_000 }, is_test: true });
      expect(asker.frames[0]).not.toHaveProperty('id');
      await new Promise((r) => setTimeout(r, 100));
      expect(other.frames).toEqual([]);
      asker.socket.close();
      other.socket.close();
    });

    it('limits a ?symbols= client to its symbols', async () => {
      const filtered = await connectWithToken(gateway, '?symbols=btcusdt,SOLUSDT');
      const everything = await connectWithToken(gateway);
      for (const symbol of ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT']) {
        await append(symbol);
      }
      await expect.poll(() => everything.signals().length).toBe(4);
      await expect.poll(() => filtered.signals().length).toBe(2);
      expect(filtered.signals().map((s) => (s['content'] as { symbol: string }).symbol)).toEqual(['BTCUSDT', 'SOLUSDT']);
      filtered.socket.send('test');
      await expect.poll(() => filtered.frames.at(-1)).toMatchObject({ is_test: true, content: { symbol: 'BTCUSDT' } });
      filtered.socket.close();
      everything.socket.close();
    });
  });

  describe('recovery with ?since=', () => {
    it('replays what a client missed while 1,000 signals keep flowing: no gap, no duplicate, in order', async () => {
      const all: string[] = [];
      const watcher = await connectWithToken(gateway, '?symbols=FLOW');
      let client = await connectWithToken(gateway, '?symbols=FLOW');
      const state = { publishing: true };
      const publisher = (async () => {
        for (let i = 0; i < 1_000; i += 1) {
          const envelope = (await append('FLOW', i + 1)) as { id: string };
          all.push(envelope.id);
          // About 1,000 signals a second, so the disconnects below happen while they flow.
          await new Promise((r) => setTimeout(r, 1));
        }
        state.publishing = false;
      })();
      const seen: string[] = [];
      let reconnectsWhilePublishing = 0;
      // Disconnect and reconnect with ?since= three times while the publisher runs.
      for (let round = 0; round < 3; round += 1) {
        await expect.poll(() => client.signals().length, { timeout: 10_000 }).toBeGreaterThan(40);
        client.socket.terminate();
        await client.closed;
        const received = client.signals().map((s) => s['id'] as string);
        seen.push(...received);
        await new Promise((r) => setTimeout(r, 20)); // signals published while disconnected
        client = await connectWithToken(gateway, `?symbols=FLOW&since=${encodeURIComponent(seen.at(-1)!)}`);
        reconnectsWhilePublishing += state.publishing ? 1 : 0;
      }
      await publisher;
      expect(reconnectsWhilePublishing).toBeGreaterThanOrEqual(2);
      await expect.poll(() => seen.length + client.signals().length, { timeout: 10_000 }).toBe(1_000);
      await new Promise((r) => setTimeout(r, 100));
      seen.push(...client.signals().map((s) => s['id'] as string));
      expect(seen).toEqual(all);
      const recoveries = client.frames.filter((f) => f['type'] === 'recovery');
      expect(recoveries).toHaveLength(1);
      expect(recoveries[0]).toMatchObject({ recovered: true });
      await expect.poll(() => watcher.signals().length).toBe(1_000);
      expect(watcher.signals().map((s) => s['id'])).toEqual(all);
      client.socket.close();
      watcher.socket.close();
    });

    it('gives 200 clients reconnecting at once from one id each the same gap-free stream', async () => {
      const first = (await append('HERD', 0)) as { id: string };
      const missed: string[] = [];
      for (let i = 0; i < 20; i += 1) {
        missed.push(((await append('HERD', i + 1)) as { id: string }).id);
      }
      const since = encodeURIComponent(first.id);
      const herd = await Promise.all(Array.from({ length: 200 }, () => connectWithToken(gateway, `?symbols=HERD&since=${since}`)));
      const live: string[] = [];
      for (let i = 0; i < 20; i += 1) {
        live.push(((await append('HERD', 100 + i)) as { id: string }).id);
      }
      const expected = [...missed, ...live];
      for (const client of herd) {
        await expect.poll(() => client.signals().length).toBe(expected.length);
      }
      for (const client of herd) {
        expect(client.frames[0]).toMatchObject({ type: 'recovery', recovered: true });
        expect(client.signals().map((s) => s['id'])).toEqual(expected);
        client.socket.close();
      }
    });

    it('tells the client when ?since= is older than the history instead of leaving a silent gap', async () => {
      const small = await startSignalsGateway({ ...env, SIGNAL_HISTORY_SIZE: '3', REDIS_KEY_PREFIX: `${env['REDIS_KEY_PREFIX'] ?? ''}small:` });
      try {
        const ids: string[] = [];
        for (let i = 0; i < 6; i += 1) {
          const res = await publishSignal(small, buy('OLD', i + 1));
          ids.push(res.json['id'] as string);
        }
        const client = await connectWithToken(small, `?since=${encodeURIComponent(ids[0]!)}`);
        await expect.poll(() => client.frames.length).toBe(4);
        expect(client.frames[0]).toMatchObject({ type: 'recovery', recovered: false, missed_from: expect.any(String) as unknown, replayed: 3 });
        expect(client.signals().map((s) => s['id'])).toEqual(ids.slice(3));
        const fresh = await connectWithToken(small, `?since=${encodeURIComponent(ids[4]!)}`);
        await expect.poll(() => fresh.frames.length).toBe(2);
        expect(fresh.frames[0]).toEqual({ type: 'recovery', recovered: true, replayed: 1, position: ids[5] });
        const bogus = await connectWithToken(small, '?since=not-an-id');
        await expect.poll(() => bogus.frames.length).toBe(1);
        expect(bogus.frames[0]).toMatchObject({ type: 'recovery', recovered: false, reason: 'invalid_id' });
        for (const c of [client, fresh, bogus]) {
          c.socket.close();
        }
      } finally {
        await small.shutdown();
      }
    });
  });

  describe('bad input', () => {
    it('answers unknown text and binary frames with an error and keeps the connection', async () => {
      const client = await connectWithToken(gateway);
      client.socket.send('hello');
      client.socket.send(Buffer.from([1, 2, 3]));
      await expect.poll(() => client.frames.length).toBe(2);
      expect(client.frames[0]).toMatchObject({ type: 'error', error: 'unknown_command' });
      expect(client.frames[1]).toMatchObject({ type: 'error', error: 'binary_not_supported' });
      client.socket.send('test');
      await expect.poll(() => client.frames.length).toBe(3);
      client.socket.close();
    });

    it('closes a frame over the size limit with 1009 and an invalid UTF-8 frame, serving others meanwhile', async () => {
      const bystander = await connectWithToken(gateway);
      const big = await connectWithToken(gateway);
      big.socket.send('x'.repeat(5_000));
      expect(await big.closed).toEqual({ code: 1009, reason: 'message_too_big' });
      const broken = await connectWithToken(gateway);
      // A masked text frame whose payload is not UTF-8 (uWS drops such connections itself).
      (broken.socket as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe]));
      expect((await broken.closed).code).toBe(1006);
      await append('AFTER');
      await expect.poll(() => bystander.signals().length).toBe(1);
      bystander.socket.close();
    });

    it('answers a flood with rate_limited errors, then closes it with 4429', async () => {
      const flooder = await connectWithToken(gateway);
      for (let i = 0; i < 600; i += 1) {
        flooder.socket.send('test');
      }
      expect(await flooder.closed).toEqual({ code: 4429, reason: 'rate_limited' });
      expect(flooder.frames.some((f) => f['error'] === 'rate_limited')).toBe(true);
    });
  });

  describe('publish API', () => {
    it('requires the admin token', async () => {
      const noToken = await publishSignal(gateway, buy('BTCUSDT'), null);
      expect(noToken).toMatchObject({ status: 401, json: { code: 401, error: 'unauthorized' } });
      const wrong = await publishSignal(gateway, buy('BTCUSDT'), 'wrong');
      expect(wrong.status).toBe(401);
    });

    it('answers a bad body with 400 listing every field at fault', async () => {
      const bad = await publishSignal(gateway, { type: 'hold', content: { symbol: '', price: -1, timestamp: 'now' } });
      expect(bad.status).toBe(400);
      expect(bad.json['error']).toBe('bad_request');
      const fields = (bad.json['fields'] as { field: string }[]).map((f) => f.field).sort();
      expect(fields).toEqual(['content.price', 'content.symbol', 'content.timestamp', 'type']);
      const notJson = await publishSignal(gateway, '{"type": ');
      expect(notJson).toMatchObject({ status: 400, json: { error: 'invalid_json' } });
      const huge = await publishSignal(gateway, JSON.stringify({ ...buy('BTCUSDT'), pad: 'x'.repeat(20_000) }));
      expect(huge).toMatchObject({ status: 413, json: { error: 'payload_too_large' } });
    });

    it('fills in the timestamp when it is missing', async () => {
      const before = Math.floor(Date.now() / 1000);
      const res = await publishSignal(gateway, buy('BTCUSDT', 75_000));
      expect((res.json['content'] as { timestamp: number }).timestamp).toBeGreaterThanOrEqual(before);
    });

    it("stamps the signal with the request's arrival, before its body was read: delivery latency counts from there", async () => {
      const published: Envelope[] = [];
      const subscription = await gateway.bus.subscribe(signalsTopic, (message) => published.push(message));
      const socket = connectTcp(Number(new URL(gateway.httpUrl).port), '127.0.0.1');
      try {
        socket.setEncoding('utf8');
        let received = '';
        socket.on('data', (chunk: string) => (received += chunk));
        const body = JSON.stringify(buy('ARRIVAL', 3));
        const sentAt = Date.now();
        socket.write(
          'POST /api/signals HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n' +
            `Authorization: Bearer ${ADMIN_TOKEN}\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        // The server answers the headers with 100 Continue from the callback that takes the arrival time; the
        // body is written only afterwards, once the clock has moved on.
        await expect.poll(() => received, { timeout: 5_000, interval: 5 }).toContain('100 Continue');
        const continuedAt = Date.now();
        await expect.poll(() => Date.now(), { timeout: 5_000, interval: 1 }).toBeGreaterThan(continuedAt);
        const bodyWrittenAt = Date.now();
        socket.write(body);
        await expect.poll(() => /"id":"([^"]+)"/.exec(received)?.[1], { timeout: 5_000, interval: 5 }).toBeDefined();
        expect(received).toContain('201 Created');
        const id = /"id":"([^"]+)"/.exec(received)?.[1] ?? '';
        await expect.poll(() => published.find((message) => message.id === id), { timeout: 5_000, interval: 5 }).toBeDefined();
        const publishedAt = published.find((message) => message.id === id)?.publishedAt ?? Number.NaN;
        expect(publishedAt).toBeGreaterThanOrEqual(sentAt);
        expect(publishedAt).toBeLessThanOrEqual(continuedAt);
        expect(publishedAt).toBeLessThan(bodyWrittenAt);
        // History (what ?since= replays) keeps the same time.
        const parsed = parseMessageId(id);
        expect(parsed).toBeDefined();
        const read = await gateway.bus.readSince(signalsTopic, formatMessageId(parsed?.epoch ?? '', (parsed?.seq ?? 1) - 1));
        expect(read.messages.find((message) => message.id === id)?.publishedAt).toBe(publishedAt);
      } finally {
        socket.destroy();
        await subscription.unsubscribe();
      }
    });
  });

  describe('slow consumers and expiry', () => {
    it('disconnects a client that stops reading and counts it, while 50 others receive everything', async () => {
      const bounded = await startSignalsGateway({
        ...env,
        SIGNALS_MAX_BUFFERED_BYTES: '65536',
        REDIS_KEY_PREFIX: `${env['REDIS_KEY_PREFIX'] ?? ''}slow:`,
      });
      try {
        // Loopback TCP buffers absorb ~3 MB before anything backs up in the server (about 25,000 frames).
        const count = 30_000;
        const readers = await Promise.all(Array.from({ length: 50 }, () => countingReader(bounded, '?symbols=BULK')));
        const stalled = await stalledReader(`127.0.0.1:${bounded.ports[0]}`, await token());
        await expect.poll(() => bounded.clients.size).toBe(51);
        for (let i = 0; i < count; i += 1) {
          const appended = bounded.bus.append<Signal>(signalsTopic, { type: 'sell', content: { symbol: 'BULK', price: i + 1, timestamp: 1 }, source: 'crypto-signals' }, history);
          if (i % 100 === 99) {
            await appended; // keep the publisher bounded without a round trip per signal
          }
        }
        await expect.poll(() => bounded.clients.size, { timeout: 10_000 }).toBe(50);
        await expect.poll(() => readers.every((r) => r.count() === count), { timeout: 30_000 }).toBe(true);
        for (const reader of readers) {
          expect(reader.inOrder()).toBe(true);
          reader.close();
        }
        const metrics = (await httpGet(`${bounded.httpUrl}/metrics`)).body;
        expect(metrics).toMatch(/gateway_backpressure_disconnects_total\{[^}]*protocol="signals"[^}]*\} 1/);
        stalled.kill();
      } finally {
        await bounded.shutdown();
      }
    });

    it('closes the connection with 4401 token_expired when the token expires', async () => {
      const shortLived = await token(4, 2);
      const client = await connect(`${gateway.wsUrl}/ws/signals`, { headers: { Authorization: `Bearer ${shortLived}` } });
      const closed = await client.closed;
      expect(closed).toEqual({ code: 4401, reason: 'token_expired' });
    });
  });
});
