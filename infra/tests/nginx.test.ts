// infra/nginx/nginx.conf with Debian's nginx: `nginx -t`, then the real thing in front of two real gateways
// (upstream names pointed at 127.0.0.1): WebSocket upgrades for all three protocols, Socket.IO long-polling
// kept on one gateway, round robin elsewhere, /metrics not public.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '@gw/auth';
import { NGINX, nginxTestConfig } from './support/nginx.js';
import { freePort, httpGet, run, spawnLogged, startGateway, stopAll, waitUntil } from './support/processes.js';
import type { ServiceProcess, Spawned } from './support/processes.js';

const JWT_SECRET = 'infra-nginx-test-secret-0123456789';
const scratch = mkdtempSync(join(tmpdir(), 'infra-nginx-'));

/** The kit's nginx.conf pointed at two local gateways (see nginxTestConfig). */
function testConfig(listenPort: number, upstreamPorts: Record<'gateway-1' | 'gateway-2', number>): string {
  return nginxTestConfig(scratch, listenPort, [upstreamPorts['gateway-1'], upstreamPorts['gateway-2']]);
}

/**
 * Opens `count` WebSockets at once, each claiming the forwarded address `addressOf(i)` (nginx appends its own
 * peer to X-Forwarded-For); resolves with the open sockets, how many upgrades were answered 429 and how long
 * the whole batch took.
 */
async function openMany(url: string, count: number, addressOf: (i: number) => string): Promise<{ open: WebSocket[]; refused: number; elapsedMs: number }> {
  const started = Date.now();
  const outcomes = await Promise.all(
    Array.from({ length: count }, (_, i) => new Promise<WebSocket | number>((resolve) => {
      const socket = new WebSocket(url, { headers: { 'x-forwarded-for': addressOf(i) } });
      socket.once('open', () => {
        resolve(socket);
      });
      socket.once('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        socket.terminate();
      });
      socket.once('error', () => {
        resolve(-1);
      });
    })),
  );
  const open = outcomes.filter((o): o is WebSocket => typeof o !== 'number');
  const failures = outcomes.filter((o): o is number => typeof o === 'number');
  const unexpected = failures.filter((status) => status !== 429);
  if (unexpected.length > 0) {
    throw new Error(`upgrades failed other than with 429: ${JSON.stringify(unexpected.slice(0, 5))}`);
  }
  return { open, refused: failures.length, elapsedMs: Date.now() - started };
}

/** Arguments that keep nginx's runtime files in the scratch folder and in the foreground. */
function nginxArgs(configFile: string): string[] {
  return ['-c', configFile, '-p', scratch, '-g', `pid ${join(scratch, 'nginx.pid')}; daemon off;`];
}

afterAll(async () => {
  await stopAll();
  rmSync(scratch, { recursive: true, force: true });
});

describe('infra/nginx/nginx.conf', () => {
  it('passes nginx -t', async () => {
    const file = join(scratch, 'syntax.conf');
    writeFileSync(file, testConfig(await freePort(), { 'gateway-1': await freePort(), 'gateway-2': await freePort() }));
    const result = await run(NGINX, ['-t', ...nginxArgs(file)], { cwd: scratch });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('syntax is ok');
  });

  describe('in front of two gateways', () => {
    let gateways: ServiceProcess[] = [];
    let nginx: Spawned | undefined;
    let base = '';
    let token = '';

    beforeAll(async () => {
      gateways = await Promise.all(
        // nginx runs on this machine, so its address (and the test clients' own) is loopback: trusted, as the
        // deployment kit trusts its private network.
        // A per-address rate low enough that one address's 1,400 attempts exceed it however slowly a loaded
        // machine makes them (1,000 distinct addresses each stay far under it).
        ['gateway-1', 'gateway-2'].map((name) =>
          startGateway({ NODE_ID: name, JWT_SECRET, TRUSTED_PROXIES: '127.0.0.0/8', CONNECTION_RATE_PER_IP: '20', CONNECTION_BURST_PER_IP: '200' }),
        ),
      );
      const [first, second] = gateways;
      if (first === undefined || second === undefined) {
        throw new Error('two gateways expected');
      }
      const port = await freePort();
      const file = join(scratch, 'nginx.conf');
      writeFileSync(file, testConfig(port, { 'gateway-1': first.port, 'gateway-2': second.port }));
      nginx = spawnLogged(NGINX, nginxArgs(file), { cwd: scratch, env: {} });
      base = `http://127.0.0.1:${port}`;
      await waitUntil(`nginx on ${base}`, async () => (await httpGet(`${base}/api/health`)).status === 200);
      token = await mintDevToken({ secret: JWT_SECRET, sub: '4' });
    }, 60_000);

    it('spreads plain HTTP over both gateways (round robin)', async () => {
      const nodes = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const { status, body } = await httpGet(`${base}/api/ready`);
        expect(status, nginx?.output()).toBe(200);
        nodes.add((JSON.parse(body) as { node_id: string }).node_id);
      }
      expect([...nodes].sort()).toEqual(['gateway-1', 'gateway-2']);
    });

    it('does not serve /metrics to the public side', async () => {
      expect((await httpGet(`${base}/metrics`)).status).toBe(404);
    });

    it('upgrades the stock WebSocket (/ws/stock/prices)', async () => {
      const first = await firstMessage(new WebSocket(`${base.replace('http', 'ws')}/ws/stock/prices`));
      expect(first).toMatchObject({ type: 'connected' });
    });

    it('upgrades the signal WebSocket (/ws/signals) with the Authorization header passed through', async () => {
      const socket = new WebSocket(`${base.replace('http', 'ws')}/ws/signals`, { headers: { authorization: `Bearer ${token}` } });
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => {
          resolve();
        });
        socket.once('error', reject);
      });
      const reply = firstMessage(socket);
      socket.send('test');
      expect(await reply).toMatchObject({ is_test: true });
    });

    it('takes the client address from X-Forwarded-For: 1,000 distinct clients are admitted, one address alone is limited', async () => {
      const wsBase = `${base.replace('http', 'ws')}/ws/stock/prices`;
      const distinct = await openMany(wsBase, 1_000, (i) => `10.${(i >> 8) & 255}.${i & 255}.7`);
      // Per-address admission is 20/s with a burst of 200 on each gateway here: as one address these 1,000
      // attempts would be refused by the hundreds; with 1,000 addresses none may be refused.
      console.info(`1,000 distinct forwarded addresses: ${distinct.open.length} open, ${distinct.refused} refused (429), in ${distinct.elapsedMs} ms`);
      expect(distinct.refused).toBe(0);
      expect(distinct.open.length).toBe(1_000);
      const [first] = gateways;
      const listed = JSON.parse((await httpGet(`http://127.0.0.1:${first!.port}/api/websocket/clients`)).body) as {
        data: { clients: { protocol: string; remote_address: string }[] };
      };
      const addresses = listed.data.clients.filter((c) => c.protocol === 'stock').map((c) => c.remote_address);
      expect(addresses.length).toBeGreaterThan(0);
      expect(addresses.every((a) => a.startsWith('10.'))).toBe(true);
      for (const socket of distinct.open) {
        socket.terminate();
      }
      const single = await openMany(wsBase, 1_400, () => '10.99.99.99');
      console.info(`1,400 attempts from one forwarded address: ${single.open.length} open, ${single.refused} refused (429), in ${single.elapsedMs} ms`);
      expect(single.refused).toBeGreaterThan(0);
      for (const socket of single.open) {
        socket.terminate();
      }
    }, 60_000);

    it('judges admin locality by the resolved client: a remote client forwarded through nginx is refused', async () => {
      const remote = await httpGet(`${base}/api/websocket/clients`, { 'x-forwarded-for': '203.0.113.9' });
      expect(remote.status).toBe(403);
      // This test runs on the machine itself: through the trusted proxy it is still local.
      expect((await httpGet(`${base}/api/websocket/clients`)).status).toBe(200);
    });

    it('keeps a Socket.IO long-polling session on one gateway (each poll is a separate request)', async () => {
      // Polling only: without stickiness the second request of the session lands on the other gateway,
      // which does not know the sid, and the connection fails.
      const socket = io(base, { transports: ['polling'], auth: { token }, reconnection: false, timeout: 10_000 });
      try {
        const connected = await nextEvent(socket, 'connected');
        expect(connected).toMatchObject({ user_id: 4, authenticated: true });
        // Several more round trips of the same session.
        for (const types of [['balance'], ['pnl'], ['orders']]) {
          const subscribed = await new Promise((resolve) => {
            socket.emit('subscribe_trading', { types }, resolve);
          });
          expect(subscribed).toMatchObject({ status: 'success', types });
        }
        expect(socket.io.engine.transport.name).toBe('polling');
      } finally {
        socket.close();
      }
    });

    it('resolves a Socket.IO client\'s address from X-Forwarded-For too: the client list shows it, not nginx', async () => {
      const forwarded = '10.201.0.9';
      const socket = io(base, { transports: ['websocket'], extraHeaders: { 'x-forwarded-for': forwarded }, auth: { token }, reconnection: false, timeout: 10_000 });
      try {
        await nextEvent(socket, 'connected');
        // Whichever gateway nginx chose lists the session under the forwarded address.
        const listed = await Promise.all(gateways.map(async (gateway) => {
          const body = JSON.parse((await httpGet(`http://127.0.0.1:${gateway.port}/api/websocket/clients`)).body) as {
            data: { clients: { protocol: string; remote_address: string }[] };
          };
          return body.data.clients.filter((c) => c.protocol === 'socketio').map((c) => c.remote_address);
        }));
        expect(listed.flat()).toContain(forwarded);
        expect(listed.flat().some((address) => address.startsWith('127.'))).toBe(false);
      } finally {
        socket.close();
      }
    });

    it('upgrades a Socket.IO session from polling to WebSocket', async () => {
      const socket = io(base, { auth: { token }, reconnection: false, timeout: 10_000 });
      try {
        await nextEvent(socket, 'connected');
        await waitUntil('the websocket upgrade', () => Promise.resolve(socket.io.engine.transport.name === 'websocket'), 10_000);
        const subscribed = await new Promise((resolve) => {
          socket.emit('subscribe_trading', { types: ['balance'] }, resolve);
        });
        expect(subscribed).toMatchObject({ status: 'success' });
      } finally {
        socket.close();
      }
    });
  });
});

/** The first text message of `socket`, parsed; rejects on error, close or after 10 s. */
function firstMessage(socket: WebSocket): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no message within 10 s'));
    }, 10_000);
    socket.once('message', (data: Buffer) => {
      clearTimeout(timer);
      socket.close();
      resolve(JSON.parse(data.toString()));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** The next `event` of `socket`; rejects on connect_error or after 10 s. */
function nextEvent(socket: Socket, event: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no "${event}" within 10 s`));
    }, 10_000);
    socket.once(event, (payload: unknown) => {
      clearTimeout(timer);
      resolve(payload);
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
