import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet, openWebSocket } from './testing/http.js';
import { spawnNode, stopSpawnedNodes } from './testing/node-process.js';
import type { NodeProcess } from './testing/node-process.js';

/** Runs a gateway entry point as a real process with PORT=0 (the kernel picks), environment given explicitly. */
function spawnGateway(entry: string, args: string[], env: Record<string, string>): NodeProcess {
  return spawnNode('gateway', entry, args, { PORT: '0', ...env });
}

/** Waits for the exit: the code and everything the process wrote. */
async function exitOf(node: NodeProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = await node.exited;
  return { code, ...node.output() };
}

const probeMain = 'apps/gateway/src/testing/probe-main.ts';
const main = 'apps/gateway/src/main.ts';

afterEach(async () => {
  await stopSpawnedNodes();
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
    // Every event loop drains (and answers readiness) on its own: 503 from any of them once each says so.
    const loops = (listening['loops'] as number | undefined) ?? 1;
    while (gateway.logs.filter((line) => line['msg'] === 'draining').length < loops) {
      await delay(20);
    }
    const ready = await httpGet(`http://127.0.0.1:${port}/api/ready`);
    expect(ready.status).toBe(503);

    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(closes.map((c) => c.code)).toEqual([1001, 1001, 1001, 1001]);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(450);
    const exit = await exitOf(gateway);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('"msg":"gateway stopped"');
  });

  it('a stop signal repeated at once (a Ctrl-C a wrapper passes on again) still drains; a later one exits at once', async () => {
    const gateway = spawnGateway(probeMain, [], { DRAIN_TIMEOUT_MS: '500' });
    const port = ((await gateway.logLine('gateway listening'))['ports'] as number[])[0]!;
    const clients = await Promise.all([1, 2].map(() => openWebSocket(`ws://127.0.0.1:${port}/ws/probe`)));
    gateway.child.kill('SIGINT');
    await gateway.logLine('shutdown requested');
    // What tsx does when it misses its child's acknowledgment: the same signal again, a few ms later.
    gateway.child.kill('SIGINT');
    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(closes.map((c) => c.code)).toEqual([1001, 1001]);
    const exit = await exitOf(gateway);
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('"msg":"gateway stopped"');
    expect(exit.stdout).not.toContain('second signal during drain');

    // Someone who means it signals again later: the drain is cut short.
    const stuck = spawnGateway(probeMain, [], { DRAIN_TIMEOUT_MS: '600000' });
    const stuckPort = ((await stuck.logLine('gateway listening'))['ports'] as number[])[0]!;
    // Connections keep the drain going (their closes are spread over the 10 minutes).
    await Promise.all([1, 2, 3, 4, 5].map(() => openWebSocket(`ws://127.0.0.1:${stuckPort}/ws/probe`)));
    stuck.child.kill('SIGTERM');
    await stuck.logLine('shutdown requested');
    // Signalled until it exits (each repeat within the repeat window is ignored; the first one after it is not).
    const exited = stuck.exited.then(() => true);
    do {
      stuck.child.kill('SIGTERM');
    } while (!(await Promise.race([exited, delay(200).then(() => false)])));
    const forced = await exitOf(stuck);
    expect(forced.code).toBe(1);
    expect(forced.stdout).toContain('second signal during drain: exiting now');
  });

  it('logs the uWebSockets.js build it runs', async () => {
    const gateway = spawnGateway(main, [], { DRAIN_TIMEOUT_MS: '0' });
    const line = await gateway.logLine('uWebSockets.js native build loaded');
    expect(line['uws']).toMatchObject({ native: true, packageName: '@trufflesuite/uws-js-unofficial' });
    await gateway.logLine('gateway listening');
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });

  it('refuses to start on the uWS JS fallback unless UWS_ALLOW_FALLBACK=true', async () => {
    const refused = await exitOf(spawnGateway(main, [], { UWS_USE_FALLBACK: '1' }));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Refusing to start: set UWS_ALLOW_FALLBACK=true');

    const allowed = spawnGateway(main, [], { UWS_USE_FALLBACK: '1', UWS_ALLOW_FALLBACK: 'true', DRAIN_TIMEOUT_MS: '0' });
    const line = await allowed.logLine('uWebSockets.js FALLBACK build');
    expect(line['level']).toBe('info');
    // It listens, as one process (the fallback cannot share a port between event loops), and stops cleanly.
    expect(await allowed.logLine('gateway listening')).not.toHaveProperty('loops');
    allowed.child.kill('SIGTERM');
    expect(await allowed.exited).toBe(0);
  });

  it('stops with ONE message listing every configuration problem, without secret values', async () => {
    const result = await exitOf(spawnGateway(main, [], {
      PORT: 'eighty',
      DRAIN_TIMEOUT_MS: 'soon',
      UWS_ALLOW_FALLBACK: 'perhaps',
      GATEWAY_ENV: 'production',
      ADMIN_TOKEN: 'admin-secret-value',
      REDIS_URL: 'not a url',
    }));
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
    const result = await exitOf(spawnGateway(main, ['--print-config'], {
      JWT_SECRET: 'a-secret-that-must-not-show',
      ADMIN_TOKEN: 'admin-token-that-must-not-show',
      PORT: '5000,8000,8080',
    }));
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as Record<string, Record<string, unknown>>;
    expect(printed['server']).toMatchObject({ PORT: [5000, 8000, 8080], HOST: '127.0.0.1', DRAIN_TIMEOUT_MS: 10_000 });
    expect(printed['auth']).toMatchObject({ JWT_SECRET: '********', ADMIN_TOKEN: '********' });
    expect(printed['heartbeat']).toMatchObject({ HEARTBEAT_INTERVAL_MS: 1000 });
    expect(result.stdout).not.toContain('must-not-show');
  });

  it('says where everything is right after it listens, every line in the one format LOG_FORMAT chose', async () => {
    // Piped standard output: JSON by default. The endpoint lines name the port the kernel picked, and come
    // after "gateway listening" in the one ordered stream.
    const json = spawnGateway(main, [], { DRAIN_TIMEOUT_MS: '0' });
    const listening = await json.logLine('gateway listening');
    const port = String((listening['ports'] as number[])[0]);
    await json.logLine(`health: http://127.0.0.1:${port}/api/health · readiness: http://127.0.0.1:${port}/api/ready · metrics: http://127.0.0.1:${port}/metrics`);
    const messages = json.logs.map((line) => String(line['msg']));
    const at = (msg: string): number => messages.indexOf(msg);
    // Admin routes closed to the network without ADMIN_TOKEN: said once, in one line.
    expect(messages.filter((msg) => msg.startsWith('ADMIN_TOKEN is not set'))).toEqual([
      'ADMIN_TOKEN is not set: admin routes answer only requests from this machine (loopback); set ADMIN_TOKEN to manage the gateway remotely',
    ]);
    expect(at(`console: http://127.0.0.1:${port}/ (ADMIN_TOKEN unset: from this host only)`)).toBeGreaterThan(at('gateway listening'));
    expect(at(`trading (Socket.IO): http://127.0.0.1:${port}/socket.io/`)).toBeGreaterThan(at(`console: http://127.0.0.1:${port}/ (ADMIN_TOKEN unset: from this host only)`));
    const stdoutLines = json.output().stdout.split('\n').filter((line) => line !== '');
    expect(stdoutLines.filter((line) => !line.startsWith('{'))).toEqual([]);
    json.child.kill('SIGTERM');
    expect(await json.exited).toBe(0);

    // LOG_FORMAT=pretty: readable lines even when piped, for every logger of the process.
    const pretty = spawnGateway(main, [], { DRAIN_TIMEOUT_MS: '0', LOG_FORMAT: 'pretty' });
    await expect.poll(() => pretty.output().stdout, { timeout: 60_000 }).toMatch(/INFO \(gateway\): health: http:\/\/127\.0\.0\.1:\d+\/api\/health/);
    const lines = pretty.output().stdout.split('\n').filter((line) => line !== '');
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
    expect(lines.findIndex((line) => line.includes('gateway listening'))).toBeGreaterThanOrEqual(0);
    expect(lines.findIndex((line) => line.includes('INFO (gateway): console: http://127.0.0.1:'))).toBeGreaterThan(
      lines.findIndex((line) => line.includes('gateway listening')),
    );
    pretty.child.kill('SIGTERM');
    expect(await pretty.exited).toBe(0);
    expect(`${json.output().stderr}${pretty.output().stderr}`).not.toMatch(/Warning/);
  }, 120_000); // two whole gateways (supervisor, loops, sources) started one after the other: 28 s in a CI run
});
