import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { GatewayError } from '@gw/core';
import { watchTopics } from './watch.js';

const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `gwtest:watch:${process.pid}:${Date.now()}:`;
const buses: Bus[] = [];

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

async function publisher(): Promise<Bus> {
  const bus = createRedisBus({ ...createRedisClients(redisUrl), prefix });
  buses.push(bus);
  await whenConnected(bus, 5_000);
  return bus;
}

describe('watchTopics (real Redis)', () => {
  it('returns the first messages published on the pattern, and nothing from other topics', async () => {
    const bus = await publisher();
    const seen: string[] = [];
    const watching = watchTopics({
      redisUrl,
      keyPrefix: prefix,
      pattern: 'demo.*',
      count: 2,
      timeoutMs: 10_000,
      onReady: () => {
        void bus.publish('other.x', 0).then(() => bus.publish('demo.a', 1)).then(() => bus.publishLatest('demo.b', 2));
      },
      onMessage: (message) => seen.push(message.topic),
    });
    const messages = await watching;
    expect(messages.map((m) => [m.topic, m.data])).toEqual([
      ['demo.a', 1],
      ['demo.b', 2],
    ]);
    expect(seen).toEqual(['demo.a', 'demo.b']);
  });

  it('fails with source_failed when the time runs out first, and stops at once when aborted', async () => {
    const error: unknown = await watchTopics({ redisUrl, keyPrefix: prefix, pattern: 'quiet.*', count: 1, timeoutMs: 200 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('source_failed');
    expect((error as GatewayError).message).toBe('0 of 1 message(s) on quiet.* within 200 ms');

    const abort = new AbortController();
    const watching = watchTopics({ redisUrl, keyPrefix: prefix, pattern: 'quiet.*', signal: abort.signal, onReady: () => { abort.abort(); } });
    await expect(watching).resolves.toEqual([]);
  });

  it('runs as a command: one JSON envelope per line, and a clear error without REDIS_URL', async () => {
    const cli = fileURLToPath(new URL('./watch-cli.ts', import.meta.url));
    const run = (args: string[], env: Record<string, string>, onReady?: () => void) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('watching')) {
            onReady?.();
          }
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });

    const bus = await publisher();
    let published = false;
    const result = await run(['--pattern', 'cli.*', '--count', '1', '--timeout-ms', '10000'], { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix }, () => {
      if (!published) {
        published = true;
        void bus.publishLatest('cli.x', { hello: 'world' });
      }
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ topic: 'cli.x', data: { hello: 'world' } });

    const noRedis = await run(['--pattern', 'cli.*'], {});
    expect(noRedis.code).toBe(1);
    expect(noRedis.stderr).toContain('watch-topics: set REDIS_URL');
    const badCount = await run(['--pattern', 'cli.*', '--count', 'many'], { REDIS_URL: redisUrl });
    expect(badCount.code).toBe(1);
    expect(badCount.stderr).toContain('watch-topics: --count: expected a whole number from 1 to 1000000000, given "many"');
  });
});
