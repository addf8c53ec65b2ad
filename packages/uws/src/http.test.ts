import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, GatewayError } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import { AdminAttemptLimiter, createClientAddressResolver, route, trustedProxyProblem } from './http.js';
import type { HttpDeps, RequestInfo, RouteHandler, RouteOptions } from './http.js';
import { closeApp, createApp, listenAll } from './listen.js';

/** Request headers by lower-case name, as `clientAddress` reads them. */
const headers =
  (values: Record<string, string> = {}) =>
  (name: string): string | undefined =>
    values[name];

describe('createClientAddressResolver (TRUSTED_PROXIES)', () => {
  const behindProxies = createClientAddressResolver(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  it('without trusted proxies the client is the peer, whatever the headers say', () => {
    const none = createClientAddressResolver([]);
    expect(none.clientAddress('198.51.100.4', headers({ 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.8' }))).toBe('198.51.100.4');
    expect(none.trusts('127.0.0.1')).toBe(false);
  });

  it('never reads forwarding headers from an untrusted peer', () => {
    expect(behindProxies.clientAddress('198.51.100.4', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('198.51.100.4');
    expect(behindProxies.clientAddress('198.51.100.4', headers({ 'x-real-ip': '203.0.113.7' }))).toBe('198.51.100.4');
    expect(behindProxies.clientAddress('127.0.0.2', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('127.0.0.2');
  });

  it('through a trusted proxy takes the right-most X-Forwarded-For hop that is not itself trusted', () => {
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('203.0.113.7');
    // The client wrote the left-most hop itself: only what the trusted proxies appended counts.
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '1.2.3.4, 203.0.113.7, 10.9.9.9' }))).toBe('203.0.113.7');
    expect(behindProxies.clientAddress('127.0.0.1', headers({ 'x-forwarded-for': '192.0.2.1,10.0.0.1,127.0.0.1' }))).toBe('192.0.2.1');
    // Every hop trusted: the left-most is the farthest known address.
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '10.0.0.1, 10.0.0.2' }))).toBe('10.0.0.1');
  });

  it('reads hops with ports and bracketed IPv6, and stops at a hop that is not an address', () => {
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '203.0.113.7:5555' }))).toBe('203.0.113.7');
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '[2001:db8::1]:443' }))).toBe('2001:db8::1');
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '2001:db8::2' }))).toBe('2001:db8::2');
    // The right-most hop cannot be read: nothing to its left can be vouched for, the proxy stands.
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '203.0.113.7, unknown' }))).toBe('10.1.2.3');
    // A trusted hop, then garbage: the last address read stands.
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': 'bogus, 10.0.0.8' }))).toBe('10.0.0.8');
  });

  it('falls back to X-Real-IP without X-Forwarded-For, and to the peer when that is not an address', () => {
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-real-ip': '203.0.113.9' }))).toBe('203.0.113.9');
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-forwarded-for': '', 'x-real-ip': '203.0.113.9' }))).toBe('203.0.113.9');
    expect(behindProxies.clientAddress('10.1.2.3', headers({ 'x-real-ip': 'evil' }))).toBe('10.1.2.3');
    expect(behindProxies.clientAddress('10.1.2.3', headers())).toBe('10.1.2.3');
  });

  it('trusts IPv6 proxies and CIDR ranges exactly to their prefix', () => {
    expect(behindProxies.clientAddress('fd12::1', headers({ 'x-forwarded-for': '2001:db8::7' }))).toBe('2001:db8::7');
    expect(behindProxies.clientAddress('fe80::1', headers({ 'x-forwarded-for': '2001:db8::7' }))).toBe('fe80::1');
    const ranges = createClientAddressResolver(['192.168.1.0/24', '2001:db8:1::/48']);
    expect(ranges.trusts('192.168.1.0')).toBe(true);
    expect(ranges.trusts('192.168.1.255')).toBe(true);
    expect(ranges.trusts('192.168.2.0')).toBe(false);
    expect(ranges.trusts('2001:db8:1:ffff::1')).toBe(true);
    expect(ranges.trusts('2001:db8:2::1')).toBe(false);
    expect(ranges.trusts('not-an-address')).toBe(false);
  });

  it('refuses a TRUSTED_PROXIES item that is not an address or CIDR, naming it', () => {
    expect(trustedProxyProblem('10.0.0.0/8')).toBeUndefined();
    expect(trustedProxyProblem('::1')).toBeUndefined();
    expect(trustedProxyProblem('nginx')).toContain('"nginx" is not an IP address or CIDR');
    expect(trustedProxyProblem('10.0.0.0/33')).toContain('prefix length must be 0 to 32');
    expect(trustedProxyProblem('fd00::/129')).toContain('prefix length must be 0 to 128');
    expect(trustedProxyProblem('10.0.0.0/8/8')).toContain('is not an IP address or CIDR');
    expect(() => createClientAddressResolver(['10.0.0.0/8', 'proxy.local'])).toThrow(GatewayError);
    expect(() => createClientAddressResolver(['proxy.local'])).toThrow(/TRUSTED_PROXIES: "proxy.local"/);
  });
});

describe('AdminAttemptLimiter', () => {
  it('blocks an address after maxFailures within the window, others unaffected, and forgives after the window', () => {
    const limiter = new AdminAttemptLimiter({ maxFailures: 3, windowMs: 1_000 });
    for (let i = 0; i < 3; i += 1) {
      expect(limiter.blocked('203.0.113.1', 100)).toBe(false);
      limiter.fail('203.0.113.1', 100 + i);
    }
    expect(limiter.blocked('203.0.113.1', 500)).toBe(true);
    expect(limiter.blocked('203.0.113.2', 500)).toBe(false);
    expect(limiter.blocked('203.0.113.1', 1_100)).toBe(false);
    // A new window counts from zero.
    limiter.fail('203.0.113.1', 1_200);
    expect(limiter.blocked('203.0.113.1', 1_300)).toBe(false);
  });
});

/** A log destination that keeps the JSON lines written to it. */
function logSink(): { lines: Record<string, unknown>[]; destination: Writable } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
      done();
    },
  });
  return { lines, destination };
}

const servers: (() => void)[] = [];
afterEach(() => {
  for (const close of servers.splice(0)) {
    close();
  }
});

/** A real uWS app on 127.0.0.1 with one route; returns its base URL. */
async function serve(deps: Partial<HttpDeps>, handler: RouteHandler, options: RouteOptions, method: 'get' | 'post' = 'get'): Promise<string> {
  const app = createApp(undefined);
  route(app, { logger: createLogger({ level: 'silent' }), metrics: noopMetrics, ...deps }, method, '/admin', handler, options);
  const listening = await listenAll(app, '127.0.0.1', [0]);
  servers.push(() => {
    listening.stopListening();
    closeApp(app);
  });
  return `http://127.0.0.1:${listening.ports[0] ?? 0}/admin`;
}

const ok: RouteHandler = (request) => ({ status: 200, body: { client: request.remoteAddress } });

describe('route() admin rules over a real socket', () => {
  it('counts failed admin tokens and answers 429 after repeated ones from one forwarded address; other addresses unaffected', async () => {
    const authFailures: string[] = [];
    const url = await serve(
      {
        adminToken: 'right-token',
        clientAddresses: createClientAddressResolver(['127.0.0.1']),
        adminAttempts: new AdminAttemptLimiter({ maxFailures: 3 }),
        metrics: { ...noopMetrics, authFailure: (protocol, reason) => authFailures.push(`${protocol}/${reason}`) },
      },
      ok,
      { admin: true },
    );
    const from = (address: string, token: string) => fetch(url, { headers: { 'x-forwarded-for': address, authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i += 1) {
      const refused = await from('198.51.100.1', `guess-${i}`);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ error: 'unauthorized' });
    }
    // Blocked now, even with the right token: guessing must not go on at line rate.
    const blocked = await from('198.51.100.1', 'right-token');
    expect(blocked.status).toBe(429);
    expect(await blocked.json()).toMatchObject({ code: 429, error: 'rate_limited' });
    const other = await from('198.51.100.2', 'right-token');
    expect(other.status).toBe(200);
    expect(await other.json()).toEqual({ client: '198.51.100.2' });
    expect((await from('198.51.100.3', 'wrong')).status).toBe(401);
    // Each refused token is counted (auth_failures_total{protocol="http",reason="admin_token"}); the blocked
    // request never reached the token check.
    expect(authFailures).toEqual(Array.from({ length: 4 }, () => 'http/admin_token'));
  });

  it('without ADMIN_TOKEN serves only this machine: a proxy header from an untrusted peer is refused (403)', async () => {
    const url = await serve({}, ok, { admin: true });
    expect((await fetch(url)).status).toBe(200);
    const forwarded = await fetch(url, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(forwarded.status).toBe(403);
    expect(await forwarded.json()).toMatchObject({ error: 'forbidden' });
    expect((await fetch(url, { headers: { forwarded: 'for=203.0.113.7' } })).status).toBe(403);
  });

  it('accepts only application/json admin bodies (415 otherwise), without running the handler', async () => {
    let calls = 0;
    const url = await serve(
      {},
      (request) => {
        calls += 1;
        return { status: 201, body: { length: request.body?.length } };
      },
      { admin: true, body: true },
      'post',
    );
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const refused = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body: '{"type":"buy"}' });
      expect(refused.status, type).toBe(415);
      expect(await refused.json()).toMatchObject({ error: 'unsupported_media_type' });
    }
    expect(calls).toBe(0);
    const accepted = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"type":"buy"}' });
    expect(accepted.status).toBe(201);
    expect(calls).toBe(1);
  });

  it('answers a failure with 500, a generic message and a request id; the detail goes to the log only', async () => {
    const sink = logSink();
    const detail = 'ENOENT: /srv/gateway/secret-path/config.json';
    const url = await serve(
      { logger: createLogger({ level: 'info', format: 'json', destination: sink.destination }) },
      () => {
        throw new Error(detail);
      },
      {},
    );
    const reply = await fetch(url);
    expect(reply.status).toBe(500);
    const text = await reply.text();
    expect(text).not.toContain('secret-path');
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toEqual({ code: 500, message: 'internal error', error: 'internal', request_id: expect.any(String) as string });
    expect(reply.headers.get('x-request-id')).toBe(body['request_id']);
    await expect.poll(() => sink.lines.find((line) => line['request_id'] === body['request_id'])).toBeDefined();
    const logged = sink.lines.find((line) => line['request_id'] === body['request_id']) as { err: { message: string }; route: string };
    expect(logged.err.message).toBe(detail);
    expect(logged.route).toBe('/admin');
    // The server keeps serving, and a second failure gets its own id.
    const again = (await (await fetch(url)).json()) as Record<string, unknown>;
    expect(again['request_id']).not.toBe(body['request_id']);
  });
});

describe('route() request arrival', () => {
  it('stamps receivedAt when the headers arrive, before the body is read', async () => {
    let seen: { receivedAt: number; handledAt: number; body: string } | undefined;
    const url = new URL(
      await serve(
        {},
        (request: RequestInfo) => {
          seen = { receivedAt: request.receivedAt, handledAt: Date.now(), body: request.body?.toString('utf8') ?? '' };
          return { status: 201, body: {} };
        },
        { body: true },
        'post',
      ),
    );
    const socket = connect(Number(url.port), url.hostname);
    socket.setEncoding('latin1');
    let received = '';
    socket.on('data', (chunk: string) => (received += chunk));
    const sentAt = Date.now();
    const body = '{"type":"buy"}';
    // The body comes in a second write, only once the server has answered the headers with 100 Continue:
    // uWS sends that from the same callback that runs the route, so the route has already taken receivedAt.
    socket.write(`POST ${url.pathname} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    await expect.poll(() => received, { timeout: 5_000, interval: 5 }).toContain('100 Continue');
    const continuedAt = Date.now();
    // The clock must move on before the body is written, so "before the body" is a strict, checkable order.
    await expect.poll(() => Date.now(), { timeout: 5_000, interval: 1 }).toBeGreaterThan(continuedAt);
    const bodyWrittenAt = Date.now();
    socket.write(body);
    await expect.poll(() => received, { timeout: 5_000, interval: 5 }).toContain('201 Created');
    socket.destroy();
    expect(seen?.body).toBe(body);
    expect(seen?.receivedAt).toBeGreaterThanOrEqual(sentAt);
    expect(seen?.receivedAt).toBeLessThanOrEqual(continuedAt);
    expect(seen?.receivedAt).toBeLessThan(bodyWrittenAt);
    expect(seen?.handledAt).toBeGreaterThanOrEqual(bodyWrittenAt);
  });
});
