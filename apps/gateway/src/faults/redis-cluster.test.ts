import { setTimeout as delay } from 'node:timers/promises';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { startRedisCluster } from '@gw/bus-redis/testing';
import type { LocalRedisCluster } from '@gw/bus-redis/testing';
import { signalsTopic } from '@gw/topics';
import { afterEach, describe, expect, it } from 'vitest';
import type { SignalClient } from '../protocols/signals/fixture.js';
import { clusterEnv, getJson, signalClient, startGatewayProcess, startWorkerProcess, stopAll, tradingClient } from './harness.js';
import type { GatewayProcess } from './harness.js';

/**
 * Fault test on a Redis Cluster: two gateway processes and a worker (trading source) on a local cluster of three
 * masters and three replicas (`cluster-node-timeout` 1 000 ms), every process started the way `pnpm gateway` /
 * `pnpm worker` start it, with `REDIS_CLUSTER=true` and `REDIS_URL` naming every node. Signal clients and
 * Socket.IO trading clients are connected to both nodes and signals are published through both nodes while
 * the master holding the `signals` topic is SIGKILLed and its replica takes over.
 *
 * Redis replication is asynchronous: a write the master acknowledged but had not sent to its replica yet is
 * lost in a failover (docs/operations.md › Redis Cluster). The publisher therefore pauses just before the kill
 * until the replica has processed everything the master wrote (its replication offset), so every signal
 * answered 201 before the kill must survive; it publishes again right after the kill, throughout the outage.
 */

const PUBLISH_INTERVAL_MS = 50;
/** Signals accepted after the failover before the final checks. */
const AFTER_FAILOVER = 20;
const ADMIN = 'fault-admin';

let cluster: LocalRedisCluster | undefined;
/** Processes of the cluster the test stopped (SIGSTOP): continued before anything is stopped. */
const stoppedPids = new Set<number>();

/** A fresh cluster per test: a failover leaves the killed master's slots without a replica. */
async function freshCluster(): Promise<LocalRedisCluster> {
  cluster = await startRedisCluster({ nodeTimeoutMs: 1_000 });
  return cluster;
}

afterEach(async () => {
  for (const pid of stoppedPids) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  stoppedPids.clear();
  await stopAll();
  await cluster?.stop();
  cluster = undefined;
});

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** The port of the master that serves `key` now. */
async function masterOf(redis: LocalRedisCluster, key: string): Promise<number> {
  const port = redis.ports[0] ?? 0;
  const slot = (await redis.command(port, 'CLUSTER', 'KEYSLOT', key)) as number;
  const ranges = (await redis.command(port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (range === undefined) {
    throw new Error(`no master serves slot ${slot}`);
  }
  return range[2][1];
}

/** Resolves once the replica on `replicaPort` has processed every write its master made so far. */
async function replicated(redis: LocalRedisCluster, masterPort: number, replicaPort: number): Promise<void> {
  const written = Number(field((await redis.command(masterPort, 'INFO', 'replication')) as string, 'master_repl_offset'));
  expect(written).toBeGreaterThan(0);
  await expect
    .poll(async () => Number(field((await redis.command(replicaPort, 'INFO', 'replication')) as string, 'slave_repl_offset')), { timeout: 10_000 })
    .toBeGreaterThanOrEqual(written);
}

interface Attempt {
  node: string;
  symbol: string;
  sentAt: number;
  answeredAt: number;
  /** 0: no HTTP answer at all. */
  status: number;
  id?: string;
  error?: unknown;
}

/** POST /api/signals on one node, bounded; a connection failure is recorded as status 0. */
async function publishOn(node: GatewayProcess, symbol: string, price: number): Promise<Attempt> {
  const sentAt = Date.now();
  try {
    const response = await fetch(`${node.httpUrl}/api/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ type: 'buy', content: { symbol, price } }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as Record<string, unknown>;
    return {
      node: node.name,
      symbol,
      sentAt,
      answeredAt: Date.now(),
      status: response.status,
      ...(response.status === 201 ? { id: String(body['id']) } : { error: body['error'] }),
    };
  } catch (error) {
    return { node: node.name, symbol, sentAt, answeredAt: Date.now(), status: 0, error: String(error) };
  }
}

/**
 * Publishes 20 signals/s, each through the next node in turn, BTCUSDT and ETHUSDT alternately, recording every
 * attempt. `hold()` resolves once it has paused with no publish in flight; `release()` resumes it.
 */
function startPublisher(nodes: readonly GatewayProcess[]): {
  attempts: Attempt[];
  accepted: () => Attempt[];
  hold: () => Promise<void>;
  release: () => void;
  stop: () => Promise<void>;
} {
  const attempts: Attempt[] = [];
  const run = { stopped: false };
  let gate: { opened: Promise<void>; open: () => void; paused: () => void } | undefined;
  const done = (async () => {
    for (let turn = 0; !run.stopped; turn += 1) {
      if (gate !== undefined) {
        gate.paused();
        await gate.opened;
        continue;
      }
      const node = nodes[turn % nodes.length];
      if (node !== undefined) {
        attempts.push(await publishOn(node, turn % 2 === 0 ? 'BTCUSDT' : 'ETHUSDT', turn + 1));
      }
      await delay(PUBLISH_INTERVAL_MS);
    }
  })();
  return {
    attempts,
    accepted: () => attempts.filter((a) => a.status === 201),
    hold: () =>
      new Promise<void>((paused) => {
        let open = (): void => undefined;
        const opened = new Promise<void>((resolve) => {
          open = resolve;
        });
        gate = { opened, open, paused };
      }),
    release: () => {
      const current = gate;
      gate = undefined;
      current?.open();
    },
    stop: async () => {
      run.stopped = true;
      gate?.open();
      await done;
    },
  };
}

/** Polls /api/ready of every node in the background and keeps what each answered, when. */
function watchReadiness(nodes: readonly GatewayProcess[]): {
  seen: Map<string, { at: number; status: number; error: unknown }[]>;
  /** When `node` first answered 503 at or after `from`, then when it first answered 200 after that. */
  outage: (node: string, from: number) => { downAt?: number; error?: unknown; upAt?: number };
  stop: () => Promise<void>;
} {
  const seen = new Map(nodes.map((n) => [n.name, [] as { at: number; status: number; error: unknown }[]]));
  const run = { stopped: false };
  const done = (async () => {
    while (!run.stopped) {
      await Promise.all(
        nodes.map(async (node) => {
          const answer = await getJson(`${node.httpUrl}/api/ready`).catch((error: unknown) => ({ status: 0, body: { error: String(error) } }));
          seen.get(node.name)?.push({ at: Date.now(), status: answer.status, error: answer.body['error'] });
        }),
      );
      await delay(50);
    }
  })();
  return {
    seen,
    outage: (name, from) => {
      const answers = (seen.get(name) ?? []).filter((a) => a.at >= from);
      const down = answers.find((a) => a.status === 503);
      const up = down === undefined ? undefined : answers.find((a) => a.at > down.at && a.status === 200);
      return { ...(down === undefined ? {} : { downAt: down.at, error: down.error }), ...(up === undefined ? {} : { upAt: up.at }) };
    },
    stop: async () => {
      run.stopped = true;
      await done;
    },
  };
}

interface WatchedSignalClient {
  name: string;
  client: SignalClient;
  wants: (symbol: string) => boolean;
  /** When each signal id arrived. */
  arrivals: Map<string, number>;
}

async function watchedSignalClient(name: string, node: GatewayProcess, query: string, sub: number): Promise<WatchedSignalClient> {
  const client = await signalClient(node.wsUrl, query, { sub });
  const arrivals = new Map<string, number>();
  client.socket.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    if (typeof frame['id'] === 'string') {
      arrivals.set(frame['id'], Date.now());
    }
  });
  const wants = query.includes('ETHUSDT') ? (symbol: string) => symbol === 'ETHUSDT' : () => true;
  return { name, client, wants, arrivals };
}

/** The fault tests' environment, on the cluster (REDIS_URL lists its nodes). */
function clusterNodesEnv(redis: LocalRedisCluster, prefix: string): Record<string, string> {
  return clusterEnv(redis, {
    REDIS_CLUSTER: 'true',
    REDIS_KEY_PREFIX: prefix,
    ADMIN_TOKEN: ADMIN,
    // The paper accounts stand still between steps 10 minutes apart: a push after the failover is the latest value sent again.
    TRADING_PAPER_TICK_MS: '600000',
  });
}

function newPrefix(): string {
  return `gwfaultcluster:${process.pid}:${Math.random().toString(36).slice(2)}:`;
}

function userOf(payload: unknown): unknown {
  return (payload as { user_id?: unknown }).user_id;
}

/** Whether both clients' last `balance_update` carry the same data. */
function sameLatestBalance(client: TradingClient, witness: TradingClient | undefined): boolean {
  const dataOf = (c: TradingClient | undefined): string => JSON.stringify((c?.received('balance_update').at(-1) as { data?: unknown } | undefined)?.data);
  return witness !== undefined && dataOf(client) === dataOf(witness);
}

function seqOf(id: string | undefined): number {
  return Number(id?.split(':')[1]);
}

describe('two gateway processes and a worker on a Redis Cluster', () => {
  it('a master SIGKILLed while signals are published: readiness and publishes report the outage, its replica takes over, no signal is lost and latest trading values come again', async () => {
    const redis = await freshCluster();
    const prefix = newPrefix();
    const victim = await masterOf(redis, `${prefix}seq:{${signalsTopic}}`);
    const replica = (await redis.nodes()).find((n) => n.role === 'replica' && n.masterPort === victim)?.port;
    expect(replica).toBeDefined();
    const replicaPort = replica ?? 0;

    const env = clusterNodesEnv(redis, prefix);
    // No signal source runs anywhere: the signals are exactly those the test publishes.
    const [a, b] = await Promise.all([startGatewayProcess('gw-a', env), startGatewayProcess('gw-b', env)]);
    const nodes = [a, b];
    const worker = await startWorkerProcess('worker-trading', 'trading', env);

    const signalClients = await Promise.all([
      watchedSignalClient('a-all', a, '', 61),
      watchedSignalClient('a-eth', a, '?symbols=ETHUSDT', 62),
      watchedSignalClient('b-all', b, '', 63),
      watchedSignalClient('b-eth', b, '?symbols=ETHUSDT', 64),
    ]);
    // Drops during the outage and comes back after the failover with `?since=` its last signal.
    const resumer = await watchedSignalClient('b-resumer', b, '', 65);

    // Trading: user 51 on A, 52 on B, 53 on both.
    const traders: { user: number; node: GatewayProcess; client: TradingClient }[] = [];
    for (const [user, node] of [[51, a], [52, b], [53, a], [53, b]] as const) {
      traders.push({ user, node, client: await tradingClient(node.httpUrl, user) });
    }
    const firstValues = await Promise.all(
      traders.map(async ({ client }) => {
        await client.request('subscribe_trading', { types: ['balance'] });
        return client.next('balance_update', 15_000);
      }),
    );
    traders.forEach(({ user }, i) => {
      expect(userOf(firstValues[i])).toBe(user);
    });

    const expectedFor = (wants: (symbol: string) => boolean, of: readonly Attempt[]): string[] =>
      of.filter((s) => wants(s.symbol)).map((s) => s.id ?? '');
    const idsOf = (c: WatchedSignalClient): string[] => c.client.signals().map((f) => String(f['id']));
    const everyoneHas = (of: readonly Attempt[], clients: readonly WatchedSignalClient[]): boolean =>
      clients.every((c) => JSON.stringify(idsOf(c)) === JSON.stringify(expectedFor(c.wants, of)));

    const readiness = watchReadiness(nodes);
    const publisher = startPublisher(nodes);
    try {
      await expect.poll(() => publisher.accepted().length).toBeGreaterThanOrEqual(12);

      // Pause the publisher, let every client get what was accepted, and make sure the replica has all of it.
      await publisher.hold();
      const beforeKill = publisher.accepted();
      expect(publisher.attempts.every((p) => p.status === 201)).toBe(true);
      await expect.poll(() => everyoneHas(beforeKill, [...signalClients, resumer])).toBe(true);
      await replicated(redis, victim, replicaPort);
      const tradingBefore = traders.map(({ client }) => client.received('balance_update').length);

      const killedAt = Date.now();
      await redis.kill(victim);
      publisher.release();

      // Every node reports the outage; the resumer drops meanwhile.
      await expect.poll(() => nodes.every((n) => readiness.outage(n.name, killedAt).downAt !== undefined), { timeout: 15_000 }).toBe(true);
      for (const node of nodes) {
        expect(readiness.outage(node.name, killedAt).error, node.name).toBe('bus_disconnected');
      }
      // A node that reports the outage refuses a publish at once (the publisher's own attempts may all have
      // been sent before the nodes noticed, and then wait for the failover).
      const probes = await Promise.all(nodes.map((node) => publishOn(node, 'PROBE', 1)));
      for (const probe of probes) {
        expect(probe.status, probe.node).toBe(503);
        expect(probe.answeredAt - probe.sentAt, probe.node).toBeLessThan(2_000);
      }
      resumer.client.socket.terminate();
      const resumeFrom = idsOf(resumer).at(-1);
      expect(resumeFrom).toBe(beforeKill.at(-1)?.id);

      // The replica takes over; every node is ready again, then signals are accepted on every node.
      await expect.poll(() => nodes.every((n) => readiness.outage(n.name, killedAt).upAt !== undefined), { timeout: 30_000 }).toBe(true);
      await expect
        .poll(() => {
          const since = publisher.attempts.filter((p) => p.sentAt > killedAt && p.status === 201);
          return nodes.every((n) => since.filter((p) => p.node === n.name).length >= AFTER_FAILOVER / 2);
        }, { timeout: 30_000 })
        .toBe(true);
      await publisher.stop();
      await readiness.stop();

      const accepted = publisher.accepted();
      const afterKill = accepted.slice(beforeKill.length);
      const duringOutage = publisher.attempts.filter((p) => p.sentAt > killedAt && p.status !== 201);

      // Every connected client has every accepted signal, once, in order; nothing was lost, so nothing announced.
      await expect.poll(() => everyoneHas(accepted, signalClients)).toBe(true);
      for (const c of signalClients) {
        expect(c.client.frames.filter((f) => f['type'] !== 'buy'), c.name).toEqual([]);
        expect(c.client.socket.readyState, c.name).toBe(c.client.socket.OPEN);
      }
      // The history went on in the same epoch, with no id lost or given twice across the failover.
      const epoch = accepted[0]?.id?.split(':')[0];
      expect(accepted.every((p) => p.id?.split(':')[0] === epoch)).toBe(true);
      expect(accepted.map((p) => seqOf(p.id))).toEqual(accepted.map((_, i) => seqOf(accepted[0]?.id) + i));

      // Publishes during the outage failed with 503 only (none hung, none failed otherwise); a refusal is fast.
      expect(duringOutage.every((p) => p.status === 503)).toBe(true);
      const slowestRefusal = Math.max(0, ...duringOutage.map((p) => p.answeredAt - p.sentAt));
      expect(slowestRefusal).toBeLessThan(2_000);

      // The client that dropped during the outage resumes with `?since=`: the history kept across the failover.
      const resumed = await watchedSignalClient('b-resumer-2', a, `?since=${encodeURIComponent(resumeFrom ?? '')}`, 65);
      await expect.poll(() => idsOf(resumed).length).toBe(afterKill.length);
      expect(resumed.client.frames[0]).toMatchObject({ type: 'recovery', recovered: true, replayed: afterKill.length });
      expect([...idsOf(resumer), ...idsOf(resumed)]).toEqual(accepted.map((p) => p.id));

      // Trading: each user gets its own latest value again after the failover, on every node. The latest value is
      // what a client connecting now is sent first: the paper market stands still between the steps of its
      // wall-clock grid (every 10 minutes here), and when one falls within the test both clients get its value.
      const resent = await Promise.all(traders.map(({ client }) => client.next('balance_update', 30_000)));
      const witnesses = await Promise.all(
        traders.map(async ({ user, node }) => {
          const witness = await tradingClient(node.httpUrl, user);
          await witness.request('subscribe_trading', { types: ['balance'] });
          await witness.next('balance_update', 15_000);
          return witness;
        }),
      );
      await expect.poll(() => traders.every(({ client }, i) => sameLatestBalance(client, witnesses[i]))).toBe(true);
      traders.forEach(({ user, client }, i) => {
        expect(userOf(resent[i]), `user ${user}`).toBe(user);
        expect(client.received('balance_update').length, `user ${user}`).toBeGreaterThan(tradingBefore[i] ?? 0);
        expect(client.received('balance_update').every((p) => userOf(p) === user), `user ${user}`).toBe(true);
        expect(client.socket.connected, `user ${user}`).toBe(true);
      });
      const tradingBackAt = Math.max(
        ...traders.map(({ client }) => client.events.find((e) => e.event === 'balance_update' && e.at > killedAt)?.at ?? Infinity),
      );

      // The promoted replica serves the signals slot; no process ended.
      await redis.waitHealthy();
      expect(await masterOf(redis, `${prefix}seq:{${signalsTopic}}`)).toBe(replicaPort);
      for (const node of [a, b, worker]) {
        expect(node.child.exitCode, node.name).toBeNull();
      }

      const firstAccepted = afterKill[0];
      const flowingAt = Math.max(...signalClients.map((c) => c.arrivals.get(expectedFor(c.wants, afterKill)[0] ?? '') ?? Infinity));
      const figure = (at: number | undefined): string => (at === undefined ? '?' : `${at - killedAt} ms`);
      console.info(
        `redis cluster failover (gateway): ` +
          nodes
            .map((n) => {
              const o = readiness.outage(n.name, killedAt);
              return `${n.name} not ready after ${figure(o.downAt)}, ready after ${figure(o.upAt)}`;
            })
            .join('; ') +
          `; first signal accepted after ${figure(firstAccepted?.answeredAt)}, on every client after ${figure(flowingAt)}; ` +
          `trading values again on every client after ${figure(tradingBackAt)}; ${duringOutage.length} publishes refused (503), ` +
          `slowest in ${slowestRefusal} ms; ${accepted.length} signals accepted`,
      );
    } finally {
      await publisher.stop();
      await readiness.stop();
    }
  }, 120_000);

  it('writes the master acknowledged but never replicated: connected clients that got those signals are told recovered: false', async () => {
    const redis = await freshCluster();
    const prefix = newPrefix();
    const signalsKey = `${prefix}seq:{${signalsTopic}}`;
    const victim = await masterOf(redis, signalsKey);
    const replicaPort = (await redis.nodes()).find((n) => n.role === 'replica' && n.masterPort === victim)?.port ?? 0;
    expect(replicaPort).toBeGreaterThan(0);
    const env = clusterNodesEnv(redis, prefix);
    const [a, b] = await Promise.all([startGatewayProcess('gw-a', env), startGatewayProcess('gw-b', env)]);
    const nodes = [a, b];
    const clients = await Promise.all([
      watchedSignalClient('a-all', a, '', 71),
      watchedSignalClient('a-eth', a, '?symbols=ETHUSDT', 72),
      watchedSignalClient('b-all', b, '', 73),
    ]);
    const accepted: Attempt[] = [];
    const publish = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i += 1) {
        const node = nodes[accepted.length % nodes.length] ?? a;
        const attempt = await publishOn(node, accepted.length % 2 === 0 ? 'BTCUSDT' : 'ETHUSDT', accepted.length + 1);
        expect(attempt.status, JSON.stringify(attempt)).toBe(201);
        accepted.push(attempt);
      }
    };
    const expectedFor = (wants: (symbol: string) => boolean, of: readonly Attempt[]): string[] =>
      of.filter((s) => wants(s.symbol)).map((s) => s.id ?? '');
    const idsOf = (c: WatchedSignalClient): string[] => c.client.signals().map((f) => String(f['id']));

    await publish(6);
    await expect.poll(() => clients.every((c) => JSON.stringify(idsOf(c)) === JSON.stringify(expectedFor(c.wants, accepted)))).toBe(true);
    await replicated(redis, victim, replicaPort);
    const kept = accepted.slice();

    // The replica stops reading; a write larger than the socket buffers between them holds everything after
    // it in the master's memory: the next signals are acknowledged (201) and delivered live, never replicated.
    const replicaPid = Number(field((await redis.command(replicaPort, 'INFO', 'server')) as string, 'process_id'));
    stoppedPids.add(replicaPid);
    process.kill(replicaPid, 'SIGSTOP');
    // 48 MiB in six writes (each well within one command's timeout), more than loopback buffers hold (32 + 4 MiB).
    const filler = 'x'.repeat(8 * 1024 * 1024);
    for (let i = 0; i < 6; i += 1) {
      await redis.command(victim, 'SET', `${prefix}filler:{${signalsTopic}}`, filler);
    }
    await publish(4);
    const lost = accepted.slice(kept.length);
    await expect.poll(() => clients.every((c) => JSON.stringify(idsOf(c)) === JSON.stringify(expectedFor(c.wants, accepted)))).toBe(true);
    await redis.kill(victim);
    process.kill(replicaPid, 'SIGCONT');
    stoppedPids.delete(replicaPid);

    // Failover; then signals through both nodes until each accepted some.
    const afterKill: Attempt[] = [];
    const deadline = Date.now() + 40_000;
    let turn = 0;
    while (nodes.some((n) => afterKill.filter((p) => p.node === n.name).length < 5)) {
      expect(Date.now(), 'the cluster did not come back').toBeLessThan(deadline);
      const node = nodes[turn % nodes.length] ?? a;
      turn += 1;
      const attempt = await publishOn(node, turn % 2 === 0 ? 'BTCUSDT' : 'ETHUSDT', 1_000 + turn);
      expect([201, 503], JSON.stringify(attempt)).toContain(attempt.status);
      if (attempt.status === 201) {
        afterKill.push(attempt);
      }
      await delay(PUBLISH_INTERVAL_MS);
    }
    // The unreplicated signals are gone: the sequence goes on from the last replicated one.
    expect(seqOf(afterKill[0]?.id)).toBe(seqOf(kept.at(-1)?.id) + 1);
    await expect.poll(() => clients.every((c) => idsOf(c).includes(expectedFor(c.wants, afterKill).at(-1) ?? ''))).toBe(true);
    // Each client is told, right after the last signal it had (the lost ones included), that it lost something,
    // and is not sent the lost signals again: after the notice, ids only go forward. (Signals the new master
    // accepted before the node read its history may be missing: the notice is what says so.)
    for (const c of clients) {
      const notices = c.client.frames.filter((f) => f['type'] === 'recovery');
      expect(notices, c.name).toHaveLength(1);
      expect(notices[0], c.name).toMatchObject({ type: 'recovery', recovered: false, reason: 'invalid_id', missed_from: null, replayed: 0 });
      const noticeAt = c.client.frames.findIndex((f) => f['type'] === 'recovery');
      expect(noticeAt, c.name).toBe(expectedFor(c.wants, accepted).length);
      const seqsAfter = c.client.frames.slice(noticeAt + 1).map((f) => seqOf(String(f['id'])));
      expect(seqsAfter.length, c.name).toBeGreaterThan(0);
      expect(seqsAfter, c.name).toEqual([...seqsAfter].sort((x, y) => x - y));
      expect(new Set(seqsAfter).size, c.name).toBe(seqsAfter.length);
    }
    expect(lost.length).toBe(4);
  }, 120_000);
});
