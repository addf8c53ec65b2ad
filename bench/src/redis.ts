import { execFile, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from './server-process.js';

const run = promisify(execFile);

/** A Redis server for the Redis-bus scenarios: the one at REDIS_URL, or one the bench started. */
export interface BenchRedis {
  url: string;
  /** Deletes every key under `prefix` (the run's REDIS_KEY_PREFIX). */
  deletePrefix(prefix: string): Promise<void>;
  /** Stops the server if the bench started it. */
  stop(): Promise<void>;
}

async function pings(url: string): Promise<boolean> {
  try {
    const { stdout } = await run('redis-cli', ['-u', url, 'ping'], { timeout: 3_000 });
    return stdout.trim() === 'PONG';
  } catch {
    return false;
  }
}

function clientFor(url: string): BenchRedis['deletePrefix'] {
  return async (prefix) => {
    const { stdout } = await run('redis-cli', ['-u', url, '--scan', '--pattern', `${prefix}*`], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const keys = stdout.split('\n').filter((k) => k !== '');
    for (let i = 0; i < keys.length; i += 500) {
      await run('redis-cli', ['-u', url, 'del', ...keys.slice(i, i + 500)], { timeout: 30_000 });
    }
  };
}

/**
 * The Redis at `url` (REDIS_URL, default redis://127.0.0.1:6379) when it answers; otherwise a throw-away
 * `redis-server` (no persistence) on a free loopback port. When neither is possible (redis-cli or
 * redis-server missing) it returns the reason as a string, and the Redis scenarios are skipped with it.
 */
export async function ensureRedis(url: string): Promise<BenchRedis | string> {
  if (await pings(url)) {
    return { url, deletePrefix: clientFor(url), stop: () => Promise.resolve() };
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const failed = new Promise<string>((resolve) => {
    child.once('error', (error) => { resolve(`redis-server: ${error.message}`); });
    child.once('exit', (code) => { resolve(`redis-server exited (${code ?? 'signal'})`); });
  });
  const own = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i += 1) {
    const outcome = await Promise.race([failed, sleep(100).then(() => undefined)]);
    if (outcome !== undefined) {
      return `no Redis at ${url} and ${outcome} (apt-get install redis-server)`;
    }
    if (await pings(own)) {
      return {
        url: own,
        deletePrefix: () => Promise.resolve(),
        stop: async () => {
          child.kill('SIGTERM');
          await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5_000)]);
        },
      };
    }
  }
  child.kill('SIGKILL');
  return `no Redis at ${url}, and the redis-server started on port ${port} did not answer`;
}
