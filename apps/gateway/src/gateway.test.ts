import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { heartbeatSource } from '@gw/source-heartbeat';
import type { Gateway } from './gateway.js';
import { startTestGateway } from './testing/gateway.js';
import { httpGet, openWebSocket } from './testing/http.js';
import { probeAdapter } from './testing/probe-adapter.js';

const started: Gateway[] = [];

async function start(env: Record<string, string> = {}): Promise<Gateway> {
  const gateway = await startTestGateway({
    env: { DRAIN_TIMEOUT_MS: '100', HEARTBEAT_INTERVAL_MS: '50', ...env },
    adapters: [probeAdapter],
    sources: [heartbeatSource],
  });
  started.push(gateway);
  return gateway;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((g) => g.shutdown()));
});

describe('gateway server', () => {
  it('serves health, readiness, metrics and the home page on every port of PORT', async () => {
    const gateway = await start({ PORT: '0,0' });
    expect(gateway.ports).toHaveLength(2);
    for (const port of gateway.ports) {
      const health = await httpGet(`http://127.0.0.1:${port}/api/health`);
      expect(health.status).toBe(200);
      expect(health.json()).toMatchObject({ status: 'ok' });
    }
    const [port] = gateway.ports;
    const ready = await httpGet(`http://127.0.0.1:${port}/api/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { bus: 'connected', bus_kind: 'memory' } });

    const metrics = await httpGet(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('# TYPE gateway_connections gauge');
    expect(metrics.body).toContain('gateway_http_requests_total');
    expect(metrics.body).toContain('process_cpu_seconds_total');

    const home = await httpGet(`http://127.0.0.1:${port}/`);
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toContain('text/html');
    expect(home.body).toContain('Realtime gateway');
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const gateway = await start();
    const res = await httpGet(`http://127.0.0.1:${gateway.ports[0]}/api/nothing-here`);
    expect(res.status).toBe(404);
    expect(res.json()).toEqual({ code: 404, message: 'no route for GET /api/nothing-here', error: 'not_found' });
  });

  it('runs embedded sources on the bus (heartbeat arrives)', async () => {
    const gateway = await start();
    const seen: number[] = [];
    const sub = await gateway.bus.subscribe<{ seq: number }>('system.heartbeat', (m) => seen.push(m.data.seq));
    await expect.poll(() => seen.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    expect(seen[1]).toBe(seen[0]! + 1);
    await sub.unsubscribe();
  });

  it('drains: readiness 503 at once, new upgrades refused, connections closed with 1001 spread over the window', async () => {
    const gateway = await start({ DRAIN_TIMEOUT_MS: '600' });
    const base = `127.0.0.1:${gateway.ports[0]}`;
    const clients = await Promise.all([1, 2, 3].map(() => openWebSocket(`ws://${base}/ws/probe`)));
    expect(gateway.clients.size).toBe(3);
    clients[0]!.socket.send('echo');
    await expect.poll(() => clients[0]!.messages).toEqual(['echo']);

    const startedAt = Date.now();
    const closedAfter: number[] = [];
    for (const client of clients) {
      void client.closed.then(() => closedAfter.push(Date.now() - startedAt));
    }
    const stopped = gateway.shutdown();
    const ready = await httpGet(`http://${base}/api/ready`);
    expect(ready.status).toBe(503);
    expect(ready.json()).toMatchObject({ code: 503, error: 'draining' });
    await expect(openWebSocket(`ws://${base}/ws/probe`)).rejects.toThrow(/HTTP 503/);
    // Nobody is closed during the first fifth of the window (load balancers notice the 503 first).
    expect(clients.every((c) => c.socket.readyState === c.socket.OPEN)).toBe(true);

    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(closes).toEqual(closes.map(() => ({ code: 1001, reason: 'going away' })));
    // Paced: one at a time across the window (due at 280, 440 and 600 ms), not all at once.
    const sorted = [...closedAfter].sort((a, b) => a - b);
    expect(sorted[0]).toBeGreaterThanOrEqual(200);
    expect(sorted[2]! - sorted[0]!).toBeGreaterThanOrEqual(250);
    await stopped;
    await expect(httpGet(`http://${base}/api/health`)).rejects.toThrow();
  });

  it('refuses to start when a port is taken, releasing what it bound', async () => {
    const first = await start();
    await expect(start({ PORT: `0,${first.ports[0]}` })).rejects.toThrow(/cannot listen/);
  });
});

describe('gateway over TLS', () => {
  it('serves https and wss with TLS_CERT_FILE and TLS_KEY_FILE (self-signed certificate)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tls-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile,
    ], { stdio: 'ignore' });
    const ca = readFileSync(certFile);
    const gateway = await start({ TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile });
    const port = gateway.ports[0]!;

    const health = await httpGet(`https://127.0.0.1:${port}/api/health`, { ca });
    expect(health.status).toBe(200);
    // The certificate really is checked: without the CA the client refuses it.
    await expect(httpGet(`https://127.0.0.1:${port}/api/health`)).rejects.toThrow(/self-signed|certificate/i);

    const client = await openWebSocket(`wss://127.0.0.1:${port}/ws/probe`, { ca });
    client.socket.send('over tls');
    await expect.poll(() => client.messages).toEqual(['over tls']);
    client.socket.close();
  });
});
