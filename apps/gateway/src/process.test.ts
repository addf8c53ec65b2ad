import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet, openWebSocket } from './testing/http.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];

interface Spawned {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Resolves with the first JSON log line whose msg matches. */
  logLine(msg: string): Promise<Record<string, unknown>>;
}

/** Runs a gateway entry point as a real process (node + tsx), environment given explicitly. */
function spawnGateway(entry: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      for (const waiter of waiters.filter((w) => w.msg === parsed['msg'])) {
        waiter.resolve(parsed);
      }
    } catch {
      // not a log line (e.g. --print-config output)
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => {
      // Let the readline interface flush the last lines.
      setImmediate(() => {
        resolve({ code, stdout, stderr });
      });
    });
  });
  return {
    child,
    exited,
    logLine: (msg) =>
      new Promise((resolve, reject) => {
        const found = lines.find((l) => l['msg'] === msg);
        if (found !== undefined) {
          resolve(found);
          return;
        }
        waiters.push({ msg, resolve });
        void exited.then((r) => {
          reject(new Error(`process exited (${r.code}) before logging "${msg}": ${r.stderr}${r.stdout}`));
        });
      }),
  };
}

const probeMain = 'apps/gateway/src/testing/probe-main.ts';
const main = 'apps/gateway/src/main.ts';

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
    }
  }
});

describe('gateway process', () => {
  it('on SIGTERM: readiness 503, connections closed with 1001 after DRAIN_TIMEOUT_MS, exit code 0', async () => {
    const gateway = spawnGateway(probeMain, [], { DRAIN_TIMEOUT_MS: '500' });
    const listening = await gateway.logLine('gateway listening');
    expect(listening).toMatchObject({ bus: 'memory', tls: false });
    const port = (listening['ports'] as number[])[0]!;
    const clients = await Promise.all([1, 2, 3, 4].map(() => openWebSocket(`ws://127.0.0.1:${port}/ws/probe`)));

    const signalledAt = Date.now();
    gateway.child.kill('SIGTERM');
    await gateway.logLine('draining');
    const ready = await httpGet(`http://127.0.0.1:${port}/api/ready`);
    expect(ready.status).toBe(503);

    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(closes.map((c) => c.code)).toEqual([1001, 1001, 1001, 1001]);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(450);
    const exit = await gateway.exited;
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('"msg":"gateway stopped"');
  });

  it('logs the uWebSockets.js build it runs', async () => {
    const gateway = spawnGateway(main, [], { DRAIN_TIMEOUT_MS: '0' });
    const line = await gateway.logLine('uWebSockets.js native build loaded');
    expect(line['uws']).toMatchObject({ native: true, packageName: '@trufflesuite/uws-js-unofficial' });
    await gateway.logLine('gateway listening');
    gateway.child.kill('SIGTERM');
    expect((await gateway.exited).code).toBe(0);
  });

  it('refuses to start on the uWS JS fallback unless UWS_ALLOW_FALLBACK=true', async () => {
    const refused = await spawnGateway(main, [], { UWS_USE_FALLBACK: '1' }).exited;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Refusing to start: set UWS_ALLOW_FALLBACK=true');

    const allowed = spawnGateway(main, [], { UWS_USE_FALLBACK: '1', UWS_ALLOW_FALLBACK: 'true', DRAIN_TIMEOUT_MS: '0' });
    const line = await allowed.logLine('uWebSockets.js FALLBACK build');
    expect(line['level']).toBe('info');
    allowed.child.kill('SIGTERM');
    await allowed.exited;
  });

  it('stops with ONE message listing every configuration problem, without secret values', async () => {
    const result = await spawnGateway(main, [], {
      PORT: 'eighty',
      DRAIN_TIMEOUT_MS: 'soon',
      UWS_ALLOW_FALLBACK: 'perhaps',
      GATEWAY_ENV: 'production',
      ADMIN_TOKEN: 'admin-secret-value',
      REDIS_URL: 'not a url',
    }).exited;
    expect(result.code).toBe(1);
    const message = result.stderr;
    expect(message.match(/invalid configuration/g)).toHaveLength(1);
    for (const variable of ['PORT', 'DRAIN_TIMEOUT_MS', 'UWS_ALLOW_FALLBACK', 'JWT_SECRET']) {
      expect(message).toContain(`  - ${variable}:`);
    }
    expect(message).toContain('given "eighty"');
    expect(message).not.toContain('admin-secret-value');
  });

  it('--print-config prints the effective configuration with secrets masked', async () => {
    const result = await spawnGateway(main, ['--print-config'], {
      JWT_SECRET: 'a-secret-that-must-not-show',
      ADMIN_TOKEN: 'admin-token-that-must-not-show',
      PORT: '5000,8000,8080',
    }).exited;
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, Record<string, unknown>>;
    expect(printed['server']).toMatchObject({ PORT: [5000, 8000, 8080], HOST: '127.0.0.1', DRAIN_TIMEOUT_MS: 10_000 });
    expect(printed['auth']).toMatchObject({ JWT_SECRET: '********', ADMIN_TOKEN: '********' });
    expect(printed['heartbeat']).toMatchObject({ HEARTBEAT_INTERVAL_MS: 1000 });
    expect(result.stdout).not.toContain('must-not-show');
  });
});
