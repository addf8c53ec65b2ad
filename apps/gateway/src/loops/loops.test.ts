import { afterEach, describe, expect, it } from 'vitest';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import { connect, refusedUpgrade, token } from '../protocols/signals/fixture.js';
import type { SignalClient } from '../protocols/signals/fixture.js';
import { spawnNode, stopSpawnedNodes } from '../testing/node-process.js';
import type { NodeProcess } from '../testing/node-process.js';

/**
 * A node on two event loops, as `LOOPS=2 pnpm gateway` runs it: a supervisor process (embedded bus), a sources
 * process and two loop processes sharing the public port. The kernel decides which loop a public connection lands
 * on, so the tests also reach each loop directly on its private port (127.0.0.1 only, one per loop): that
 * places clients on a chosen loop, deterministically.
 */

const ADMIN = 'loops-admin';

interface LoopNode {
  process: NodeProcess;
  publicUrl: string;
  /** Base URL of loop i (its private port). */
  loopUrl: (index: number) => string;
}

async function startLoopNode(env: Record<string, string> = {}): Promise<LoopNode> {
  const node = spawnNode('gw-loops', 'apps/gateway/src/main.ts', [], {
    LOOPS: '2',
    // The kernel's choice, held by the supervisor from its start (see reservePorts).
    PORT: '0',
    NODE_ID: 'gw-loops',
    ADMIN_TOKEN: ADMIN,
    DRAIN_TIMEOUT_MS: '1000',
    // No source publishing signals of its own: the tests count exactly what they publish.
    SOURCES: 'heartbeat',
    ...env,
  });
  const listening = await node.logLine('gateway listening');
  expect(listening).toMatchObject({ loops: 2, sourcesProcess: true });
  const privatePorts = listening['privatePorts'] as number[];
  const port = (listening['ports'] as number[])[0] ?? 0;
  expect(port).toBeGreaterThan(0);
  expect(privatePorts).toHaveLength(2);
  return {
    process: node,
    publicUrl: `127.0.0.1:${port}`,
    loopUrl: (index) => `127.0.0.1:${String(privatePorts[index])}`,
  };
}

const open: SignalClient[] = [];
async function signalClient(hostPort: string, query = '', sub = 1): Promise<SignalClient> {
  const client = await connect(`ws://${hostPort}/ws/signals${query}`, { headers: { Authorization: `Bearer ${await token(sub)}` } });
  open.push(client);
  return client;
}

async function publish(hostPort: string, price: number): Promise<string> {
  const response = await fetch(`http://${hostPort}/api/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ type: 'buy', content: { symbol: 'LOOPUSDT', price } }),
  });
  expect(response.status).toBe(201);
  return String(((await response.json()) as { id: unknown }).id);
}

function ids(client: SignalClient): string[] {
  return client.signals().map((s) => String(s['id']));
}

afterEach(async () => {
  for (const client of open.splice(0)) {
    client.socket.terminate();
  }
  await stopSpawnedNodes();
});

describe('a node on two event loops', () => {
  it('delivers a signal published through either loop to the clients of every loop, once and in order', async () => {
    const node = await startLoopNode();
    const clients = [
      await signalClient(node.loopUrl(0)),
      await signalClient(node.loopUrl(0)),
      await signalClient(node.loopUrl(1)),
      await signalClient(node.loopUrl(1)),
      await signalClient(node.publicUrl),
      await signalClient(node.publicUrl),
    ];
    const sent: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      sent.push(await publish(node.loopUrl(i % 2), 100 + i));
    }
    for (const client of clients) {
      await expect.poll(() => client.signals().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(sent.length);
    }
    for (const client of clients) {
      expect(ids(client)).toEqual(sent);
    }
  });

  it('looks like one node from outside: stats, clients, cluster nodes, /metrics and readiness cover every loop and the supervisor', async () => {
    const node = await startLoopNode({ NODE_SUMMARY_INTERVAL_MS: '200' });
    await signalClient(node.loopUrl(0));
    await signalClient(node.loopUrl(1));
    await signalClient(node.loopUrl(1));
    const admin = { authorization: `Bearer ${ADMIN}` };
    const json = async (path: string, where = node.publicUrl): Promise<Record<string, unknown>> =>
      (await (await fetch(`http://${where}${path}`, { headers: admin })).json()) as Record<string, unknown>;
    for (const where of [node.loopUrl(0), node.loopUrl(1)]) {
      const stats = (await json('/api/websocket/stats', where))['data'] as { protocols: Record<string, { connections: number }> };
      expect(stats.protocols['signals']?.connections).toBe(3);
      const clients = (await json('/api/websocket/clients', where))['data'] as { total: number };
      expect(clients.total).toBe(3);
      expect(await json('/api/ready', where)).toMatchObject({ status: 'ready', node_id: 'gw-loops' });
      // Node summaries are published every NODE_SUMMARY_INTERVAL_MS: the list follows within one.
      await expect
        .poll(() => json('/api/cluster/nodes', where), { timeout: 10_000 })
        .toMatchObject({ count: 1, nodes: [{ node_id: 'gw-loops', members: 3, connections: { signals: 3 } }] });
      const metrics = await (await fetch(`http://${where}/metrics`)).text();
      expect(metrics).toContain('gateway_connections{protocol="signals",node="gw-loops"} 3');
      // The heartbeat source runs in the sources process: its figures are part of the node's one exposition.
      expect(metrics).toMatch(/gateway_source_polls_total\{source="heartbeat",result="[a-z]+",node="gw-loops"\} [1-9]/);
      expect(metrics).not.toContain('gw-loops~');
      // Event-loop lag stays one series per process: an average would hide a saturated loop beside idle ones.
      for (const member of ['loop-0', 'loop-1', 'sources']) {
        expect(metrics).toMatch(new RegExp(`nodejs_eventloop_lag_p99_seconds\\{node="gw-loops",process="${member}"\\} \\d`));
      }
      expect(metrics).not.toMatch(/nodejs_eventloop_lag_p99_seconds\{node="gw-loops"\}/);
    }
  });

  it('on Redis, every loop is a member of the bus itself and signals still reach every loop once, in order', async () => {
    const node = await startLoopNode({
      REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `gwloops:${String(process.pid)}:${Math.random().toString(36).slice(2)}:`,
    });
    expect(node.process.logs.find((l) => l['msg'] === 'gateway listening')).toMatchObject({ bus: 'redis' });
    const clients = [await signalClient(node.loopUrl(0)), await signalClient(node.loopUrl(1))];
    const sent: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      sent.push(await publish(node.loopUrl(i % 2), 200 + i));
    }
    for (const client of clients) {
      await expect.poll(() => ids(client), { timeout: 15_000 }).toEqual(sent);
    }
  });

  it('recovers with ?since= on another loop than the one the client left', async () => {
    const node = await startLoopNode();
    const first = await signalClient(node.loopUrl(0));
    const before = [await publish(node.loopUrl(0), 1), await publish(node.loopUrl(1), 2)];
    await expect.poll(() => first.signals().length, { timeout: 15_000 }).toBe(2);
    first.socket.terminate();
    const missed = [await publish(node.loopUrl(1), 3), await publish(node.loopUrl(0), 4), await publish(node.loopUrl(1), 5)];
    const resumed = await signalClient(node.loopUrl(1), `?since=${encodeURIComponent(before[1] ?? '')}`);
    await expect.poll(() => resumed.signals().length, { timeout: 15_000 }).toBe(3);
    expect(resumed.frames[0]).toMatchObject({ type: 'recovery', recovered: true, replayed: 3 });
    expect(ids(resumed)).toEqual(missed);
  });

  it('holds MAX_CONNECTIONS_PER_USER across its loops', async () => {
    const node = await startLoopNode({ MAX_CONNECTIONS_PER_USER: '2' });
    await signalClient(node.loopUrl(0), '', 42);
    await signalClient(node.loopUrl(1), '', 42);
    for (const where of [node.loopUrl(0), node.loopUrl(1)]) {
      const third = await refusedUpgrade(`ws://${where}/ws/signals`, { headers: { Authorization: `Bearer ${await token(42)}` } });
      expect(third.status).toBe(429);
      expect(JSON.parse(third.body)).toMatchObject({ error: 'connection_limit' });
    }
    // Another user is not affected.
    await signalClient(node.loopUrl(1), '', 43);
  });

  it('runs the sources once, in their own process, and every loop serves their data', async () => {
    const node = await startLoopNode({ SOURCES: 'heartbeat,trading', TRADING_BALANCE_INTERVAL_MS: '300', TRADING_PAPER_TICK_MS: '200' });
    const traders = await Promise.all(
      [0, 1].map(async (index) =>
        connectTradingClient(`http://${node.loopUrl(index)}`, { auth: { token: await token(50 + index) }, transports: ['websocket'] }),
      ),
    );
    try {
      for (const [index, trader] of traders.entries()) {
        await trader.request('subscribe_trading', { types: ['balance'] });
        expect((await trader.next('balance_update', 15_000)) as { user_id: unknown }).toMatchObject({ user_id: 50 + index });
      }
      const started = node.process.logs.filter((l) => l['msg'] === 'trading source starting');
      expect(started).toHaveLength(1);
      expect(started[0]).toMatchObject({ loop: 'sources' });

      // The sources process dies: the supervisor starts it again, and the data flows again to every loop.
      const sources = node.process.logs.find((l) => l['msg'] === 'sources running');
      process.kill(Number(sources?.['pid']), 'SIGKILL');
      await expect.poll(() => node.process.logs.filter((l) => l['msg'] === 'sources running').length, { timeout: 30_000 }).toBe(2);
      expect(node.process.logs.some((l) => l['msg'] === 'sources process died: starting it again')).toBe(true);
      await expect.poll(() => node.process.logs.filter((l) => l['msg'] === 'trading source starting').length, { timeout: 30_000 }).toBe(2);
      for (const trader of traders) {
        const before = trader.received('balance_update').length;
        await expect.poll(() => trader.received('balance_update').length, { timeout: 15_000 }).toBeGreaterThan(before);
      }
    } finally {
      for (const trader of traders) {
        trader.socket.disconnect();
      }
    }
  });

  it('serves a Socket.IO polling session whose requests arrive on either loop', async () => {
    const node = await startLoopNode({ SOURCES: 'heartbeat,trading', TRADING_BALANCE_INTERVAL_MS: '300', TRADING_PAPER_TICK_MS: '200' });
    const engine = (where: string, sid?: string): string =>
      `http://${where}/socket.io/?EIO=4&transport=polling${sid === undefined ? '' : `&sid=${encodeURIComponent(sid)}`}`;
    // The handshake on loop 0, everything else of the session through loop 1: forwarded to loop 0.
    const open = await (await fetch(engine(node.loopUrl(0)))).text();
    const sid = String((JSON.parse(open.slice(1)) as { sid: unknown }).sid);
    expect(sid.startsWith('0.')).toBe(true);
    const post = async (packet: string): Promise<void> => {
      const response = await fetch(engine(node.loopUrl(1), sid), { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: packet });
      expect(response.status).toBe(200);
    };
    const received: string[] = [];
    const poll = async (): Promise<void> => {
      const response = await fetch(engine(node.loopUrl(1), sid));
      expect(response.status).toBe(200);
      received.push(...(await response.text()).split('\x1e'));
    };
    await post(`40${JSON.stringify({ token: await token(61) })}`);
    await poll();
    expect(received.some((packet) => packet.startsWith('40{"sid":'))).toBe(true);
    await post('421["subscribe_trading",{"types":["balance"]}]');
    for (let polls = 0; polls < 20 && !received.some((packet) => packet.startsWith('42["balance_update"')); polls += 1) {
      await poll();
    }
    expect(received.some((packet) => packet.startsWith('431['))).toBe(true);
    expect(received.find((packet) => packet.startsWith('42["balance_update"'))).toContain('"user_id":61');

    // A client on the public port with the polling transport only: its requests land on any loop.
    const client = await connectTradingClient(`http://${node.publicUrl}`, { auth: { token: await token(62) }, transports: ['polling'] });
    try {
      await client.request('subscribe_trading', { types: ['balance'] });
      expect((await client.next('balance_update', 15_000)) as { user_id: unknown }).toMatchObject({ user_id: 62 });
    } finally {
      client.socket.disconnect();
    }
  });

  it('starts a loop that died again, on the same private port, and its clients can come back', async () => {
    const node = await startLoopNode();
    // A loop's own lines may follow the supervisor's "gateway listening" (each process writes for itself).
    const victimLine = (): Record<string, unknown> | undefined => node.process.logs.find((l) => l['msg'] === 'event loop listening' && l['loop'] === 1);
    await expect.poll(victimLine, { timeout: 10_000 }).toBeDefined();
    const victim = victimLine();
    process.kill(Number(victim?.['pid']), 'SIGKILL');
    await expect
      .poll(() => node.process.logs.filter((l) => l['msg'] === 'event loop listening' && l['loop'] === 1).length, { timeout: 30_000 })
      .toBe(2);
    expect(node.process.logs.some((l) => l['msg'] === 'event loop 1 died: starting it again' && l['child'] === 1)).toBe(true);
    const back = await signalClient(node.loopUrl(1));
    const other = await signalClient(node.loopUrl(0));
    const id = await publish(node.loopUrl(0), 7);
    await expect.poll(() => ids(back), { timeout: 15_000 }).toEqual([id]);
    await expect.poll(() => ids(other), { timeout: 15_000 }).toEqual([id]);
  });

  it('drains every loop on SIGTERM: each loop closes its clients with 1001, then the node exits 0', async () => {
    const node = await startLoopNode();
    const clients = [await signalClient(node.loopUrl(0)), await signalClient(node.loopUrl(1))];
    node.process.kill('SIGTERM');
    for (const client of clients) {
      expect((await client.closed).code).toBe(1001);
    }
    expect(await node.process.exited).toBe(0);
  });
});
