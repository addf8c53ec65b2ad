import { afterEach, describe, expect, it } from 'vitest';
import { connect, refusedUpgrade, token } from '../protocols/signals/fixture.js';
import {
  RedisServer,
  clusterEnv,
  getJson,
  postSignal,
  signalClient,
  startGatewayProcess,
  startWorkerProcess,
  stopAll,
  tradingClient,
} from './harness.js';

/**
 * Fault tests, part 1: two gateway processes and a worker process on one (real, private) Redis. Everything is
 * a real process started the way `pnpm gateway` / `pnpm worker` start it.
 */

const ADMIN = { authorization: 'Bearer fault-admin' };
function userOf(payload: unknown): unknown {
  return (payload as { user_id?: unknown }).user_id;
}

afterEach(stopAll);

describe('two gateway processes and a worker on one Redis', () => {
  it('serves the same signals on both nodes, each user its own trading data on every node, cluster-wide views and limits', async () => {
    const redis = await RedisServer.start();
    const env = clusterEnv(redis, { MAX_CONNECTIONS_PER_USER: '2' });
    const [a, b] = await Promise.all([startGatewayProcess('gw-a', env), startGatewayProcess('gw-b', env)]);
    await startWorkerProcess('worker-trading', 'trading', env);

    // Signals: published on A, received in the same order with the same ids on A and on B.
    const [onA, onB] = await Promise.all([signalClient(a.wsUrl), signalClient(b.wsUrl)]);
    const ids: unknown[] = [];
    for (let i = 1; i <= 5; i += 1) {
      ids.push((await postSignal(a, 'BTCUSDT', 70_000 + i)).body['id']);
    }
    await expect.poll(() => onB.signals().length, { timeout: 15_000 }).toBe(5);
    await expect.poll(() => onA.signals().length).toBe(5);
    expect(onA.signals().map((s) => s['id'])).toEqual(ids);
    expect(onB.signals().map((s) => s['id'])).toEqual(ids);

    // Trading: interest expressed on node B alone makes the worker fetch user 41.
    const only41 = await tradingClient(b.httpUrl, 41);
    await only41.request('subscribe_trading', { types: ['balance'] });
    expect(userOf(await only41.next('balance_update', 10_000))).toBe(41);

    // A user connected to both nodes gets its data on both.
    const [u42a, u42b] = await Promise.all([tradingClient(a.httpUrl, 42), tradingClient(b.httpUrl, 42)]);
    await Promise.all([u42a.request('subscribe_trading', { types: ['balance'] }), u42b.request('subscribe_trading', { types: ['balance'] })]);
    expect(userOf(await u42a.next('balance_update', 10_000))).toBe(42);
    expect(userOf(await u42b.next('balance_update', 10_000))).toBe(42);
    expect(only41.received('balance_update').every((p) => userOf(p) === 41)).toBe(true);

    // MAX_CONNECTIONS_PER_USER=2 holds across the cluster: user 42 has one socket on each node.
    const third = await refusedUpgrade(`${a.wsUrl}/ws/signals`, { headers: { Authorization: `Bearer ${await token(42)}` } });
    expect(third.status).toBe(429);
    expect(JSON.parse(third.body)).toMatchObject({ error: 'connection_limit' });
    u42b.socket.disconnect();
    await expect
      .poll(async () => {
        const attempt = await connect(`${a.wsUrl}/ws/signals`, { headers: { Authorization: `Bearer ${await token(42)}` } }).catch(() => undefined);
        attempt?.socket.terminate();
        return attempt !== undefined;
      }, { timeout: 5_000 })
      .toBe(true);

    // Cluster-wide views, from either node.
    const nodes = await getJson(`${b.httpUrl}/api/cluster/nodes`, ADMIN);
    expect((nodes.body['nodes'] as { node_id: string }[]).map((n) => n.node_id).sort()).toEqual(['gw-a', 'gw-b']);
    const stats = await getJson(`${a.httpUrl}/api/websocket/stats?scope=cluster`, ADMIN);
    const data = stats.body['data'] as { nodes: string[]; missing_nodes: string[]; protocols: Record<string, { connections: number }> };
    expect(data.nodes).toEqual(['gw-a', 'gw-b']);
    expect(data.missing_nodes).toEqual([]);
    expect(data.protocols['signals']?.connections).toBe(2);
    const local = await getJson(`${a.httpUrl}/api/websocket/stats`);
    expect((local.body['data'] as { protocols: Record<string, { connections: number }> }).protocols['signals']?.connections).toBe(1);
    const clients = await getJson(`${b.httpUrl}/api/websocket/clients?scope=cluster`, ADMIN);
    const rows = (clients.body['data'] as { clients: { node_id: string; protocol: string; user_id: unknown }[] }).clients;
    expect(new Set(rows.map((r) => r.node_id))).toEqual(new Set(['gw-a', 'gw-b']));
    expect(rows.filter((r) => r.protocol === 'socketio' && r.user_id === 42)).toHaveLength(1);
  });
});

describe('Redis stopped and restarted while clients are connected', () => {
  it('keeps every process and client up, reports the outage, and flows again with latest values and gap-free recovery', async () => {
    const redis = await RedisServer.start();
    // The paper account stands still between steps 10 minutes apart, so a push after the restart is the latest
    // value sent again (unless a step falls within the test: then the step's value is the latest).
    // One event loop per node: readiness is answered by the loop a request lands on, and the late client below
    // must land where B's readiness was seen (with several loops, each loop's subscription comes back on its own).
    const env = clusterEnv(redis, { TRADING_PAPER_TICK_MS: '600000', LOOPS: '1' });
    const [a, b] = await Promise.all([startGatewayProcess('gw-a', env), startGatewayProcess('gw-b', env)]);
    const worker = await startWorkerProcess('worker-trading', 'trading', env);
    const signals = await signalClient(a.wsUrl);
    const trader = await tradingClient(b.httpUrl, 43);
    await trader.request('subscribe_trading', { types: ['balance'] });
    await trader.next('balance_update', 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    // Unchanged data is not pushed again: no two pushes in a row carry the same value.
    const pushed = trader.received('balance_update').map((p) => JSON.stringify((p as { data: unknown }).data));
    expect(pushed.filter((data, i) => data === pushed[i - 1])).toEqual([]);

    await redis.down();
    await expect.poll(async () => (await getJson(`${a.httpUrl}/api/ready`)).body['error'], { timeout: 10_000 }).toBe('bus_disconnected');
    expect((await getJson(`${b.httpUrl}/api/ready`)).status).toBe(503);
    expect((await postSignal(a, 'DOWN', 1)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 1_000));
    for (const node of [a, b, worker]) {
      expect(node.child.exitCode, node.name).toBeNull();
    }
    expect(signals.socket.readyState).toBe(signals.socket.OPEN);
    expect(trader.socket.connected).toBe(true);

    const pushedBefore = trader.received('balance_update').length;
    await redis.up();
    const back = Date.now();
    // Within 5 s: ready again, signals flow, and the trading user's latest value is pushed again.
    await expect.poll(async () => (await getJson(`${a.httpUrl}/api/ready`)).status, { timeout: 15_000 }).toBe(200);
    let first: Record<string, unknown> = {};
    await expect
      .poll(async () => {
        const res = await postSignal(a, 'BACK', 1);
        first = res.body;
        return res.status;
      }, { timeout: 5_000 })
      .toBe(201);
    await expect.poll(() => signals.signals().some((s) => s['id'] === first['id']), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => trader.received('balance_update').length, { timeout: 5_000 }).toBeGreaterThan(pushedBefore);
    expect(Date.now() - back).toBeLessThan(5_000);
    // The latest value is what a client connecting now is sent first.
    const witness = await tradingClient(b.httpUrl, 43);
    await witness.request('subscribe_trading', { types: ['balance'] });
    await witness.next('balance_update', 10_000);
    const latest = (c: typeof trader): string => JSON.stringify((c.received('balance_update').at(-1) as { data: unknown }).data);
    await expect.poll(() => latest(trader) === latest(witness)).toBe(true);

    // Recovery has no gap for signals published after Redis came back. B is ready first: a client connecting to
    // a node whose subscription is still down starts at that node's live position, before `first`.
    await expect.poll(async () => (await getJson(`${b.httpUrl}/api/ready`)).status, { timeout: 15_000 }).toBe(200);
    const later = await signalClient(b.wsUrl);
    const sent = [first['id']];
    for (let i = 0; i < 3; i += 1) {
      sent.push((await postSignal(a, 'BACK', 2 + i)).body['id']);
    }
    await expect.poll(() => later.signals().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    expect(later.signals().map((s) => [s['id'], (s['content'] as Record<string, unknown>)['price']])).toEqual(sent.slice(1).map((id, i) => [id, 2 + i]));
    later.socket.terminate();
    for (let i = 0; i < 3; i += 1) {
      sent.push((await postSignal(a, 'BACK', 10 + i)).body['id']);
    }
    const since = String(later.signals().at(-1)?.['id']);
    const resumed = await signalClient(b.wsUrl, `?since=${encodeURIComponent(since)}`);
    await expect.poll(() => resumed.signals().length, { timeout: 15_000 }).toBe(3);
    expect(resumed.frames[0]).toMatchObject({ type: 'recovery', recovered: true, replayed: 3 });
    expect([...later.signals(), ...resumed.signals()].map((s) => s['id'])).toEqual(sent.slice(1));
  });
});
