// A node run as several processes must look like one node from the outside. Here node gw-a is two gateway
// loops (members gw-a~0 and gw-a~1) and a supervisor member (gw-a~main, metrics only, as the process that runs
// the sources), and gw-b is a single-process node; all share one memory hub as they would share the bus.
// Real clients connect to each loop; every view, asked of either loop, shows gw-a once.
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { createStockAdapter, stockAdapterConfig } from '@gw/adapter-stock';
import { MemoryHub, createMemoryBus } from '@gw/bus-memory';
import type { Bus } from '@gw/bus';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { createPromMetrics } from '@gw/metrics';
import { startClusterView } from '@gw/node-services';
import { loadGatewayConfig } from '../config.js';
import { startGateway } from '../gateway.js';
import { connect, token } from '../protocols/signals/fixture.js';
import type { SignalClient } from '../protocols/signals/fixture.js';
import { stockClient, until } from '../protocols/stock/harness.js';
import type { StockClient } from '../protocols/stock/harness.js';
import { startTestGateway } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { httpGet } from '../testing/http.js';
import { freePort } from '../testing/net.js';

const ADMIN_TOKEN = 'loops-views-admin';
const logger = createLogger({ level: 'silent' });
// Summaries republished often, so the node list soon shows the clients.
const env = { PORT: '0', HOST: '127.0.0.1', DRAIN_TIMEOUT_MS: '0', ADMIN_TOKEN, NODE_SUMMARY_INTERVAL_MS: '200' };

function adapters() {
  const sections = loadConfig(env, { signals: signalsAdapterConfig, stock: stockAdapterConfig });
  return [createSignalsAdapter(sections.signals), createStockAdapter(sections.stock)];
}

/** Loop `index` of node gw-a, in this process: its own member id on the shared hub, the node's id for the views. */
async function startLoop(hub: MemoryHub, index: number): Promise<TestGateway> {
  const memberId = `gw-a~${index}`;
  const gateway = await startGateway({
    config: loadGatewayConfig({ ...env, NODE_ID: memberId }, {}),
    logger,
    adapters: adapters(),
    sources: [],
    bus: createMemoryBus({ hub, nodeId: memberId }),
    // No polling across these loops here: the routing peers are left empty.
    loop: { nodeId: 'gw-a', index, count: 2, privatePort: await freePort(), privatePorts: [] },
  });
  const port = gateway.ports[0] ?? 0;
  return Object.assign(gateway, { httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` });
}

/** The node's supervisor: a member that answers `metrics` only (its sources' series). */
async function startSupervisor(hub: MemoryHub) {
  const bus: Bus = createMemoryBus({ hub, nodeId: 'gw-a~main' });
  const registry = new Registry();
  const metrics = createPromMetrics({ registry, labels: { node: 'gw-a' }, collectDefaultMetrics: false });
  metrics.sourceError('market', 'network');
  const view = await startClusterView({
    bus,
    nodeId: 'gw-a',
    logger,
    publishIntervalMs: 60_000,
    gatherTimeoutMs: 10_000,
    summary: () => ({ started_at: new Date().toISOString(), connections: {}, draining: false, bus: bus.state }),
  });
  view.provide('metrics', () => registry.getMetricsAsJSON());
  return {
    stop: async () => {
      await view.stop();
      await bus.close();
    },
  };
}

let loops: TestGateway[];
let single: TestGateway;
let supervisor: Awaited<ReturnType<typeof startSupervisor>>;
const signals: SignalClient[] = [];
const stocks: StockClient[] = [];

const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
async function getJson<T>(url: string, options = {}): Promise<T> {
  const res = await httpGet(url, options);
  expect(res.status, res.body).toBe(200);
  return res.json() as T;
}
async function signalClient(gateway: TestGateway, sub: number): Promise<void> {
  signals.push(await connect(`${gateway.wsUrl}/ws/signals`, { headers: { Authorization: `Bearer ${await token(sub)}` } }));
}

interface Stats {
  connections: Record<string, number>;
  subscriptions: Record<string, number>;
  protocols: Record<string, Record<string, number>>;
  scope?: string;
  nodes?: string[];
  missing_nodes?: string[];
}

beforeAll(async () => {
  const hub = new MemoryHub();
  loops = [await startLoop(hub, 0), await startLoop(hub, 1)];
  supervisor = await startSupervisor(hub);
  single = await startTestGateway({ env: { ...env, NODE_ID: 'gw-b' }, adapters: adapters(), bus: createMemoryBus({ hub, nodeId: 'gw-b' }) });
  const [loop0, loop1] = loops as [TestGateway, TestGateway];
  // Signals: two clients on loop 0, one on loop 1, one on gw-b. Stock: one client per loop, both on 600519.
  await signalClient(loop0, 1);
  await signalClient(loop0, 2);
  await signalClient(loop1, 3);
  await signalClient(single, 4);
  for (const loop of loops) {
    const client = await stockClient(loop);
    stocks.push(client);
    await client.next();
    expect((await client.subscribe('stock', '600519')).type).toBe('subscribed');
  }
  // The registries count a connection once its handshake completed on the server.
  for (const [gateway, open] of [[loop0, 3], [loop1, 2], [single, 1]] as const) {
    await until(() => gateway.clients.size === open, 10_000, `${gateway.nodeId}: ${open} connections registered`);
  }
});

afterAll(async () => {
  for (const client of signals) {
    client.socket.close();
  }
  for (const client of stocks) {
    client.socket.close();
  }
  await Promise.all([...loops, single].map((g) => g.shutdown()));
  await supervisor.stop();
});

describe('a node on two loops looks like one node', () => {
  it('local stats count every loop, with the non-additive figures not summed', async () => {
    for (const loop of loops) {
      const stats = async () => (await getJson<{ data: Stats }>(`${loop.httpUrl}/api/websocket/stats`)).data;
      // Each adapter counts a connection as its open handler runs, which the client may see a moment earlier.
      await expect.poll(async () => (await stats()).protocols['signals']?.['connections']).toBe(3);
      const data = await stats();
      expect(data.scope).toBeUndefined();
      expect(data.protocols['signals']).toMatchObject({ connections: 3, total_connections: 3 });
      expect(data.protocols['stock']).toMatchObject({ connections: 2, subscriptions: 2, stock_targets: 1 });
      expect(data.connections).toMatchObject({ active_connections: 2, total_connections: 2, total_subscriptions: 2 });
      // Both loops' clients want the same stock: one target for the node, as one process would count it.
      expect(data.subscriptions).toEqual({
        total_subscriptions: 2,
        total_clients: 2,
        total_targets: 1,
        strategy_targets: 0,
        stock_targets: 1,
        market_targets: 0,
      });
    }
    const ofSingle = async () => (await getJson<{ data: Stats }>(`${single.httpUrl}/api/websocket/stats`)).data.protocols['signals']?.['connections'];
    await expect.poll(ofSingle).toBe(1);
  });

  it('local clients list every loop\'s clients', async () => {
    for (const loop of loops) {
      const { data } = await getJson<{ data: { total: number; clients: { protocol: string; user_id: unknown }[] } }>(
        `${loop.httpUrl}/api/websocket/clients`,
        admin,
      );
      expect(data.total).toBe(5);
      expect(data.clients.filter((c) => c.protocol === 'signals').map((c) => c.user_id).sort()).toEqual([1, 2, 3]);
    }
  });

  it('cluster stats and clients aggregate per node: gw-a once', async () => {
    for (const gateway of [...loops, single]) {
      const { data } = await getJson<{ data: Stats }>(`${gateway.httpUrl}/api/websocket/stats?scope=cluster`, admin);
      expect(data).toMatchObject({ scope: 'cluster', nodes: ['gw-a', 'gw-b'], missing_nodes: [] });
      expect(data.protocols['signals']).toMatchObject({ connections: 4 });
      expect(data.protocols['stock']).toMatchObject({ connections: 2, stock_targets: 1 });

      const clients = await getJson<{ data: { total: number; nodes: string[]; missing_nodes: string[]; clients: { node_id: string }[] } }>(
        `${gateway.httpUrl}/api/websocket/clients?scope=cluster`,
        admin,
      );
      expect(clients.data).toMatchObject({ total: 6, nodes: ['gw-a', 'gw-b'], missing_nodes: [] });
      expect(clients.data.clients.filter((c) => c.node_id === 'gw-a')).toHaveLength(5);
      expect(clients.data.clients.filter((c) => c.node_id === 'gw-b')).toHaveLength(1);
    }
  });

  it('cluster nodes list the node once with its members, and ready names the node', async () => {
    type NodeList = { node_id: string; count: number; nodes: { node_id: string; members: number; connections: Record<string, number> }[] };
    for (const loop of loops) {
      const body = await getJson<NodeList>(`${loop.httpUrl}/api/cluster/nodes`, admin);
      expect(body.node_id).toBe('gw-a');
      expect(body.count).toBe(2);
      expect(body.nodes.map((n) => [n.node_id, n.members])).toEqual([
        ['gw-a', 3],
        ['gw-b', 1],
      ]);
      // Summaries are republished every interval: the connections show once both loops published theirs.
      const connections = async () => (await getJson<NodeList>(`${loop.httpUrl}/api/cluster/nodes`, admin)).nodes.map((n) => n.connections);
      await expect.poll(connections).toEqual([{ signals: 3, stock: 2 }, { signals: 1 }]);
      expect((await getJson<{ node_id: string }>(`${loop.httpUrl}/api/ready`)).node_id).toBe('gw-a');
    }
    expect((await getJson<{ node_id: string }>(`${single.httpUrl}/api/ready`)).node_id).toBe('gw-b');
  });

  it('/metrics on either loop is one exposition for the node: loops and supervisor aggregated', async () => {
    for (const loop of loops) {
      const res = await httpGet(`${loop.httpUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      const lines = res.body.split('\n');
      // One family each, one series per label set, all under the node's name.
      expect(lines.filter((l) => l.startsWith('# TYPE gateway_connections '))).toHaveLength(1);
      expect(lines).toContain('gateway_connections{protocol="signals",node="gw-a"} 3');
      expect(lines).toContain('gateway_connections{protocol="stock",node="gw-a"} 2');
      expect(lines).toContain('gateway_connections_opened_total{protocol="signals",node="gw-a"} 3');
      expect(lines).toContain('gateway_source_errors_total{source="market",kind="network",node="gw-a"} 1');
      expect(res.body).not.toContain('gw-a~');
      // Process metrics are aggregated too (one version line, not one per process).
      expect(lines.filter((l) => l.startsWith('nodejs_version_info{'))).toHaveLength(1);
    }
    const own = await httpGet(`${single.httpUrl}/metrics`);
    expect(own.body).toContain('gateway_connections{protocol="signals",node="gw-b"} 1');
  });
});
