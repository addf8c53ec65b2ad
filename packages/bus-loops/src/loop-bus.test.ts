import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Bus, InterestChange } from '@gw/bus';
import { runBusContract } from '@gw/bus/testing';
import { MemoryHub, createMemoryBus } from '@gw/bus-memory';
import { GatewayError, createLogger } from '@gw/core';
import type { Logger } from '@gw/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectLoopBus, crashLoopBus, createBusHost, createLoopBus } from './index.js';
import type { BusHost, BusHostOptions } from './index.js';

const WAIT = { timeout: 15_000, interval: 20 } as const;
let socketCount = 0;

function socketPath(): string {
  socketCount += 1;
  return join(tmpdir(), `gw-bus-loops-${process.pid}-${socketCount}.sock`);
}

/** A logger whose JSON lines the test can read back. */
function capturedLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (line !== '') {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
      }
      done();
    },
  });
  return { logger: createLogger({ destination, format: 'json', name: 'bus-host' }), lines };
}

function startHost(options: Partial<BusHostOptions> = {}): Promise<BusHost> {
  return createBusHost({ socketPath: socketPath(), logger: capturedLogger().logger, ...options });
}

runBusContract(
  'loops (embedded bus across processes)',
  async () => {
    const host = await startHost();
    const nodes: Bus[] = [];
    return {
      createNode: async (options) => {
        const bus = await connectLoopBus({
          socketPath: host.socketPath,
          nodeId: `loop-${nodes.length + 1}`,
          ...(options?.interestTtlMs === undefined ? {} : { interestTtlMs: options.interestTtlMs }),
          ...(options?.onError === undefined ? {} : { onError: options.onError }),
        });
        nodes.push(bus);
        return bus;
      },
      crashNode: (bus) => {
        crashLoopBus(bus);
        return Promise.resolve();
      },
      cleanup: async () => {
        await Promise.all(nodes.map((bus) => bus.close()));
        await host.close();
      },
    };
  },
  { restartableBackend: false },
);

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const childScript = fileURLToPath(new URL('./testing/loop-child.ts', import.meta.url));

interface ChildLoop {
  process: ChildProcessWithoutNullStreams;
  /** Every JSON line it printed. */
  lines: Record<string, unknown>[];
  stderr(): string;
}

/** Resources a test started: stopped after it whatever happened. */
const started: { hosts: BusHost[]; buses: Bus[]; children: ChildLoop[]; sockets: Socket[] } = {
  hosts: [],
  buses: [],
  children: [],
  sockets: [],
};

afterEach(async () => {
  for (const child of started.children.splice(0)) {
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGKILL');
    }
  }
  for (const socket of started.sockets.splice(0)) {
    socket.destroy();
  }
  await Promise.all(started.buses.splice(0).map((bus) => bus.close()));
  await Promise.all(started.hosts.splice(0).map((host) => host.close()));
});

async function host(options: Partial<BusHostOptions> = {}): Promise<BusHost> {
  const created = await startHost(options);
  started.hosts.push(created);
  return created;
}

function track<B extends Bus>(bus: B): B {
  started.buses.push(bus);
  return bus;
}

function spawnLoop(args: string[]): ChildLoop {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '' },
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const loop = { process: child, lines, stderr: () => stderr };
  started.children.push(loop);
  return loop;
}

/** A peer speaking raw frames: what the host answers, and whether it closed the connection. */
interface RawPeer {
  socket: Socket;
  frames: Record<string, unknown>[];
  closed(): boolean;
  send(text: string): void;
}

function rawPeer(path: string): RawPeer {
  const socket = createConnection(path);
  started.sockets.push(socket);
  const frames: Record<string, unknown>[] = [];
  let closed = false;
  let rest = '';
  socket.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      frames.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  return { socket, frames, closed: () => closed, send: (text) => socket.write(text) };
}

function hello(nodeId: string): string {
  return `${JSON.stringify({ op: 'hello', id: 0, v: 1, node: nodeId })}\n`;
}

function range(from: number, toExclusive: number): number[] {
  return Array.from({ length: toExclusive - from }, (_, i) => from + i);
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('loop bus across real processes', () => {
  it('delivers in order, exactly once, both ways; a killed process keeps its interest until the TTL', async () => {
    const { logger, lines: logs } = capturedLogger();
    const ttl = 600;
    const h = await host({ logger, interestTtlMs: ttl });
    // The primary's own node sweeps expired interest at its own pace (a third of its TTL): same TTL here.
    const primary = track(createMemoryBus({ hub: h.hub, nodeId: 'primary', interestTtlMs: ttl }));
    const changes: InterestChange[] = [];
    await primary.watchInterest('proc.', (change) => changes.push(change));
    const echoes: unknown[] = [];
    await primary.subscribe('echo.proc.t', (message) => echoes.push(message.data));
    const child = spawnLoop([h.socketPath, 'child-1', 'proc.*', 'proc.interest']);
    await vi.waitFor(() => {
      expect(child.lines[0], child.stderr()).toEqual({ ready: child.process.pid });
    }, WAIT);
    expect(changes).toEqual([{ topic: 'proc.interest', interested: true }]);
    expect(h.nodeIds()).toEqual(['child-1']);

    const total = 3_000;
    const appended: string[] = [];
    for (let i = 0; i < total; i += 1) {
      void primary.publish('proc.t', i);
      if (i % 10 === 0) {
        appended.push((await primary.append('proc.h', i, { maxLength: 1_000, maxAgeMs: 60_000 })).id);
      }
      if (i % 100 === 99) {
        await yieldToLoop();
      }
    }
    await primary.publish('proc.t', 'end');
    await vi.waitFor(() => {
      expect(child.lines.at(-1)).toMatchObject({ topic: 'proc.t', data: 'end' });
    }, WAIT);
    const received = child.lines.slice(1);
    expect(received.filter((l) => l['topic'] === 'proc.t').map((l) => l['data'])).toEqual([...range(0, total), 'end']);
    expect(received.filter((l) => l['topic'] === 'proc.h').map((l) => l['id'])).toEqual(appended);
    expect(received).toHaveLength(total + 1 + appended.length);
    await vi.waitFor(() => {
      expect(echoes.at(-1)).toBe('end');
    }, WAIT);
    expect(echoes).toEqual([...range(0, total), 'end']);

    const killedAt = Date.now();
    child.process.kill('SIGKILL');
    await vi.waitFor(() => {
      expect(logs).toContainEqual(
        expect.objectContaining({ nodeId: 'child-1', msg: 'bus host: a node left without closing its bus; its interest expires after its TTL' }),
      );
    }, WAIT);
    expect(h.nodeIds()).toEqual([]);
    await vi.waitFor(() => {
      expect(changes).toContainEqual({ topic: 'proc.interest', interested: false });
    }, WAIT);
    // Expiry, not an eager release: at least the TTL minus one refresh period passed since the kill.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(ttl / 2);
    expect(await primary.interestedTopics('proc.')).toEqual([]);
  });
});

describe('bus host robustness', () => {
  it('answers malformed frames with a clear error and drops only that peer', async () => {
    const { logger, lines: logs } = capturedLogger();
    const h = await host({ logger, maxFrameBytes: 4_096 });
    const a = track(await connectLoopBus({ socketPath: h.socketPath, nodeId: 'good-a' }));
    const b = track(await connectLoopBus({ socketPath: h.socketPath, nodeId: 'good-b' }));
    const got: unknown[] = [];
    await a.subscribe('ok.t', (message) => got.push(message.data));

    const cases: { send: string; code: string; message: RegExp }[] = [
      { send: 'this is not json\n', code: 'bad_request', message: /malformed frame \(not JSON\): "this is not json"/ },
      { send: '[1,2]\n', code: 'bad_request', message: /not a JSON object/ },
      { send: '{"op":"pub","id":1,"topic":"ok.t","data":1}\n', code: 'bad_request', message: /first frame must be a hello/ },
      { send: `${hello('raw-1')}{"op":"teleport","id":1}\n`, code: 'bad_request', message: /unknown op "teleport"/ },
      { send: `${hello('raw-2')}{"op":"sub","id":1,"sub":"x","pattern":"ok.t"}\n`, code: 'bad_request', message: /sub must be a number/ },
      { send: `${hello('raw-3')}{"op":"pub","topic":"ok.t"}\n`, code: 'bad_request', message: /id must be a number/ },
      { send: `{"op":"hello","id":0,"v":99,"node":"raw-4"}\n`, code: 'bad_request', message: /protocol version 99 is not supported/ },
      { send: hello('good-a'), code: 'bad_request', message: /node id "good-a" is already live/ },
      { send: 'x'.repeat(10_000), code: 'payload_too_large', message: /frame longer than 4096 bytes/ },
    ];
    for (const c of cases) {
      const peer = rawPeer(h.socketPath);
      peer.send(c.send);
      await vi.waitFor(() => {
        expect(peer.closed()).toBe(true);
      }, WAIT);
      const fatal = peer.frames.find((f) => f['fatal'] !== undefined)?.['fatal'] as { code: string; message: string };
      expect(fatal.code).toBe(c.code);
      expect(fatal.message).toMatch(c.message);
    }
    expect(logs.filter((l) => l['msg'] === 'bus host: protocol error, dropping the peer')).toHaveLength(cases.length);

    // A well-formed request the bus refuses is an ordinary error answer: the peer stays.
    const polite = rawPeer(h.socketPath);
    polite.send(`${hello('raw-5')}{"op":"pub","id":1,"topic":"bad topic","data":1}\n`);
    await vi.waitFor(() => {
      expect(polite.frames).toEqual([{ re: 0 }, { re: 1, err: { code: 'bad_request', message: 'invalid topic "bad topic"' } }]);
    }, WAIT);
    expect(polite.closed()).toBe(false);

    // A duplicate node id through the client: refused with the host's reason.
    const duplicate = await connectLoopBus({ socketPath: h.socketPath, nodeId: 'good-b' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(duplicate).toBeInstanceOf(GatewayError);
    expect(duplicate).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/"good-b" is already live/) as string });

    await b.publish('ok.t', 'still served');
    await vi.waitFor(() => {
      expect(got).toEqual(['still served']);
    }, WAIT);
    expect(h.nodeIds().sort()).toEqual(['good-a', 'good-b', 'raw-5']);
  });

  it('sends a message once per node, naming every subscription of the node it matches', async () => {
    const h = await host();
    const primary = track(createMemoryBus({ hub: h.hub, nodeId: 'primary' }));
    const peer = rawPeer(h.socketPath);
    peer.send(
      [
        hello('wire').trimEnd(),
        JSON.stringify({ op: 'sub', id: 1, sub: 7, pattern: 'co.t' }),
        JSON.stringify({ op: 'sub', id: 2, sub: 8, pattern: 'co.*' }),
        JSON.stringify({ op: 'sub', id: 3, sub: 9, pattern: '*' }),
        '',
      ].join('\n'),
    );
    await vi.waitFor(() => {
      expect(peer.frames).toEqual([{ re: 0 }, { re: 1 }, { re: 2 }, { re: 3 }]);
    }, WAIT);
    await primary.publish('co.t', 'both');
    await primary.publish('co.other', 'prefix only');
    await vi.waitFor(() => {
      expect(peer.frames).toHaveLength(6);
    }, WAIT);
    expect(peer.frames.slice(4)).toEqual([
      { m: [7, 8, 9], e: { topic: 'co.t', data: 'both', publishedAt: expect.any(Number) as number } },
      { m: [8, 9], e: { topic: 'co.other', data: 'prefix only', publishedAt: expect.any(Number) as number } },
    ]);
  });

  it('drops a node that stops reading instead of buffering its deliveries without bound', async () => {
    const { logger, lines: logs } = capturedLogger();
    const ttl = 300;
    const h = await host({ logger, maxBufferedBytes: 256 * 1024, interestTtlMs: ttl });
    const primary = track(createMemoryBus({ hub: h.hub, nodeId: 'primary', interestTtlMs: ttl }));
    const healthy = track(await connectLoopBus({ socketPath: h.socketPath, nodeId: 'healthy' }));
    let healthyCount = 0;
    await healthy.subscribe('stuck.t', () => (healthyCount += 1));
    const changes: InterestChange[] = [];
    await primary.watchInterest('stuck.', (change) => changes.push(change));
    const stuck = rawPeer(h.socketPath);
    stuck.send(
      `${hello('stuck')}${JSON.stringify({ op: 'sub', id: 1, sub: 1, pattern: 'stuck.t' })}\n` +
        `${JSON.stringify({ op: 'declare', id: 2, lease: 2, topic: 'stuck.i' })}\n`,
    );
    await vi.waitFor(() => {
      expect(stuck.frames).toEqual([{ re: 0 }, { re: 1 }, { re: 2 }]);
    }, WAIT);
    stuck.socket.pause();

    const payload = 'x'.repeat(10_000);
    let published = 0;
    const dropped = (): boolean => logs.some((l) => l['msg'] === 'bus host: a node stopped reading its deliveries, dropping it');
    await vi.waitFor(
      async () => {
        for (let i = 0; i < 20 && !dropped(); i += 1) {
          await primary.publish('stuck.t', payload);
          published += 1;
        }
        await yieldToLoop();
        expect(dropped()).toBe(true);
      },
      { timeout: 15_000, interval: 0 },
    );
    const drop = logs.find((l) => l['msg'] === 'bus host: a node stopped reading its deliveries, dropping it')!;
    expect(drop['nodeId']).toBe('stuck');
    expect(drop['buffered']).toBeGreaterThan(256 * 1024);
    expect(h.nodeIds()).toEqual(['healthy']);
    // Dropped as a dead process: its interest expires rather than being released.
    await vi.waitFor(() => {
      expect(changes).toEqual([
        { topic: 'stuck.i', interested: true },
        { topic: 'stuck.i', interested: false },
      ]);
    }, WAIT);
    await vi.waitFor(() => {
      expect(healthyCount).toBe(published);
    }, WAIT);
  });
});

describe('loop bus lifecycle', () => {
  it('is disconnected until the host accepts it, then fails calls and reports once when the host goes', async () => {
    const h = await host();
    const reported: unknown[] = [];
    const states: string[] = [];
    const bus = track(createLoopBus({ socketPath: h.socketPath, nodeId: 'life', onError: (error) => reported.push(error) }));
    bus.onStateChange((state) => states.push(state));
    expect(bus.state).toBe('disconnected');
    await expect(bus.publish('life.t', 1)).rejects.toMatchObject({ code: 'bus_unavailable' });
    // Interest declared while connecting resolves at once and is registered when the host accepts the node.
    const lease = await bus.declareInterest('life.i');
    await vi.waitFor(() => {
      expect(bus.state).toBe('connected');
    }, WAIT);
    expect(await bus.interestedTopics('life.')).toEqual(['life.i']);
    await lease.release();
    expect(await bus.interestedTopics('life.')).toEqual([]);

    // In flight while the host goes: answered or failed, but settled.
    const pending = bus.readSince('life.h', 'x:0').then(
      () => 'answered',
      (error: unknown) => error,
    );
    await h.close();
    expect(await pending).toSatisfy((outcome) => outcome === 'answered' || (outcome as GatewayError).code === 'bus_unavailable');
    await vi.waitFor(() => {
      expect(bus.state).toBe('disconnected');
    }, WAIT);
    expect(states).toEqual(['connected', 'disconnected']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ code: 'bus_unavailable' });
    await expect(bus.publish('life.t', 1)).rejects.toMatchObject({ code: 'bus_unavailable' });
    await expect(bus.subscribe('life.t', () => undefined)).rejects.toMatchObject({ code: 'bus_unavailable' });
    // The node is gone: interest has nowhere to go, and the call still resolves as the contract asks.
    await (await bus.declareInterest('life.i')).release();
  });

  it('fails to connect clearly when no host listens, and replaces the socket file of a dead host', async () => {
    const path = socketPath();
    await expect(connectLoopBus({ socketPath: path, nodeId: 'nobody' })).rejects.toMatchObject({
      code: 'bus_unavailable',
      message: expect.stringContaining(path) as string,
    });
    const first = await host({ socketPath: path });
    await expect(createBusHost({ socketPath: path, logger: capturedLogger().logger })).rejects.toMatchObject({
      code: 'config_invalid',
      message: `another bus host is listening on ${path}`,
    });
    await first.close();
    // A host that was killed leaves its socket file behind, and nobody answers on it: it is replaced.
    await writeFile(path, '');
    const second = await host({ socketPath: path });
    const bus = track(await connectLoopBus({ socketPath: path, nodeId: 'after-stale' }));
    expect(bus.state).toBe('connected');
    expect(second.nodeIds()).toEqual(['after-stale']);
  });

  it('shares one hub with the host process: a memory node there and a loop node see each other', async () => {
    const hub = new MemoryHub();
    const h = await host({ hub });
    const local = track(createMemoryBus({ hub, nodeId: 'primary' }));
    const loop = track(await connectLoopBus({ socketPath: h.socketPath, nodeId: 'loop' }));
    const seen: unknown[] = [];
    await loop.subscribe('share.t', (message) => seen.push(message.data), { withLatest: true });
    await local.publishLatest('share.t', 1);
    await local.publish('share.t', 2);
    await vi.waitFor(() => {
      expect(seen).toEqual([1, 2]);
    }, WAIT);
    expect(h.hub).toBe(hub);
  });
});
