// infra/nginx/nginx.conf with Debian's nginx: `nginx -t`, then the real thing in front of two real gateways
// (upstream names pointed at 127.0.0.1): WebSocket upgrades for all three protocols, Socket.IO long-polling
// kept on one gateway, round robin elsewhere, /metrics not public.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '@gw/auth';
import { INFRA_DIR, freePort, httpGet, run, spawnLogged, startGateway, stopAll, waitUntil } from './support/processes.js';
import type { ServiceProcess, Spawned } from './support/processes.js';

const JWT_SECRET = 'infra-nginx-test-secret-0123456789';
/** Debian installs nginx in /usr/sbin, which is not on every user's PATH. */
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
const scratch = mkdtempSync(join(tmpdir(), 'infra-nginx-'));

/**
 * The production config with its compose names replaced: nginx resolves upstream hosts when it loads the
 * config, and the test listens on a free loopback port instead of 80 and logs into its scratch folder. Each replacement must match exactly
 * as often as expected, so a changed config fails here instead of being tested half-substituted.
 */
function testConfig(listenPort: number, upstreamPorts: Record<'gateway-1' | 'gateway-2', number>): string {
  let text = readFileSync(`${INFRA_DIR}nginx/nginx.conf`, 'utf8');
  const replace = (from: string, to: string, times: number): void => {
    const count = text.split(from).length - 1;
    if (count !== times) {
      throw new Error(`nginx.conf: expected "${from}" ${times} times, found ${count}`);
    }
    text = text.replaceAll(from, to);
  };
  replace('listen 80;', `listen 127.0.0.1:${listenPort};`, 1);
  replace('access_log /var/log/nginx/access.log;', `access_log ${join(scratch, 'access.log')};`, 1);
  replace('server gateway-1:8080', `server 127.0.0.1:${upstreamPorts['gateway-1']}`, 2);
  replace('server gateway-2:8080', `server 127.0.0.1:${upstreamPorts['gateway-2']}`, 2);
  return text;
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
        ['gateway-1', 'gateway-2'].map((name) => startGateway({ NODE_ID: name, JWT_SECRET })),
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
