import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { freePort } from '@gw/bus-redis/testing';
import { whenConnected } from '@gw/bus';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

function runWorker(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts', ...args], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info', ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  cleanups.push(() => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
    }
  });
  return { child, exited, output: () => output };
}

describe('pnpm worker', () => {
  it('runs a source in its own process on the Redis bus, serves its metrics, and stops on SIGTERM', async () => {
    const prefix = `gwtest:${process.pid}:${Date.now()}:`;
    const metricsPort = await freePort();
    const bus = createRedisBus({ ...createRedisClients(redisUrl), prefix });
    cleanups.push(() => bus.close());
    await whenConnected(bus, 5_000);
    const beats: number[] = [];
    await bus.subscribe<{ seq: number }>('system.heartbeat', (m) => beats.push(m.data.seq));

    const worker = runWorker(['--source', 'heartbeat'], {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      HEARTBEAT_INTERVAL_MS: '100',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: '127.0.0.1',
    });
    await expect.poll(() => beats.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/gateway_source_polls_total\{[^}]*source="heartbeat",result="changed"[^}]*\} [1-9]/);
    expect(metrics).toContain('gateway_bus_connected');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/api/ready`)).status).toBe(200);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('refuses to share its METRICS_PORT: a second worker on a busy port exits non-zero naming the port', async () => {
    const prefix = `gwtest:${process.pid}:${Date.now()}:`;
    const metricsPort = await freePort();
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, METRICS_PORT: String(metricsPort), METRICS_HOST: '127.0.0.1' };
    const first = runWorker(['--source', 'heartbeat'], env);
    await expect.poll(() => first.output(), { timeout: 20_000 }).toContain('worker running');
    expect(first.output()).toContain(`metrics: http://127.0.0.1:${metricsPort}/metrics`);

    const second = runWorker(['--source', 'heartbeat'], env);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`cannot listen on 127.0.0.1:${metricsPort}: the port is in use`);
    // The first one still owns the port alone.
    expect((await fetch(`http://127.0.0.1:${metricsPort}/api/health`)).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('refuses an unknown source by listing the known ones, and refuses to run without REDIS_URL', async () => {
    const unknown = runWorker(['--source', 'nope'], { REDIS_URL: redisUrl });
    expect(await unknown.exited).toBe(1);
    expect(unknown.output()).toMatch(/source "nope": unknown \(known sources: heartbeat, crypto-signals, stock-market, volume-wave, trading, replay(, [a-z0-9-]+)*\)/);

    const noRedis = runWorker(['--source', 'heartbeat'], {});
    expect(await noRedis.exited).toBe(1);
    expect(noRedis.output()).toContain('set REDIS_URL');
  });
});
