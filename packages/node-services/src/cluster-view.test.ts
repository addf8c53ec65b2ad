// A node of several processes (members) on the bus, seen from the outside as one node: two loops and a
// supervisor of node gw-a, and a single-process node gw-b, all on one memory hub (the embedded bus of a node
// and Redis behave alike here: the view only uses interest, latest values and pub/sub).
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHub, createMemoryBus } from '@gw/bus-memory';
import type { Bus } from '@gw/bus';
import { createLogger } from '@gw/core';
import { startClusterView } from './cluster-view.js';
import type { MemberSummary } from './types.js';

const logger = createLogger({ level: 'silent' });
type View = Awaited<ReturnType<typeof startClusterView>>;

const started: { view: View; bus: Bus }[] = [];

afterEach(async () => {
  for (const { view, bus } of started.splice(0)) {
    await view.stop();
    await bus.close();
  }
});

async function member(
  hub: MemoryHub,
  memberId: string,
  nodeId: string | undefined,
  summary: Partial<MemberSummary> = {},
  gatherTimeoutMs = 60_000,
): Promise<View> {
  const bus = createMemoryBus({ hub, nodeId: memberId });
  const view = await startClusterView({
    bus,
    nodeId,
    logger,
    publishIntervalMs: 60_000,
    // Long by default: a question that waited for a member that never answers would fail the test by its timeout.
    gatherTimeoutMs,
    summary: () => ({ started_at: '2026-01-01T00:00:00.000Z', connections: {}, draining: false, bus: 'connected', ...summary }),
  });
  started.push({ view, bus });
  return view;
}

/** Node gw-a on two loops and a supervisor (which provides only `metrics`), and gw-b on one process. */
async function cluster(hub = new MemoryHub()) {
  const a0 = await member(hub, 'gw-a~0', 'gw-a', { connections: { signals: 2, stock: 1 }, started_at: '2026-01-01T00:00:02.000Z' });
  const a1 = await member(hub, 'gw-a~1', 'gw-a', { connections: { signals: 1 }, draining: true, started_at: '2026-01-01T00:00:01.000Z' });
  const main = await member(hub, 'gw-a~main', 'gw-a', { bus: 'disconnected', started_at: '2026-01-01T00:00:03.000Z' });
  const b = await member(hub, 'gw-b', undefined, { connections: { signals: 5 } });
  return { a0, a1, main, b };
}

describe('a node of several members', () => {
  it('is listed once by nodes(): connections summed, draining if any member drains, the worst bus state, the earliest start', async () => {
    const { a0, b } = await cluster();
    expect(a0.nodeId).toBe('gw-a');
    expect(a0.memberId).toBe('gw-a~0');
    expect(b.nodeId).toBe('gw-b');
    expect(b.memberId).toBe('gw-b');
    const nodes = (await b.nodes()).sort((x, y) => x.node_id.localeCompare(y.node_id));
    expect(nodes).toEqual([
      {
        node_id: 'gw-a',
        members: 3,
        started_at: '2026-01-01T00:00:01.000Z',
        connections: { signals: 3, stock: 1 },
        draining: true,
        bus: 'disconnected',
      },
      { node_id: 'gw-b', members: 1, started_at: '2026-01-01T00:00:00.000Z', connections: { signals: 5 }, draining: false, bus: 'connected' },
    ]);
  });

  it('gather answers per node, merging members with the merge the kind registered; a member without a provider does not hold it up', async () => {
    const { a0, a1, b } = await cluster();
    const merge = (answers: { n: number; who: string[] }[]) => ({ n: Math.max(...answers.map((x) => x.n)), who: answers.flatMap((x) => x.who) });
    a0.provide('load', () => ({ n: 2, who: ['a0'] }), merge);
    a1.provide('load', () => Promise.resolve({ n: 7, who: ['a1'] }), merge);
    b.provide('load', () => ({ n: 4, who: ['b'] }), merge);
    for (const asker of [a0, a1, b]) {
      const result = await asker.gather<{ n: number; who: string[] }>('load');
      expect(result.missing).toEqual([]);
      expect(result.answers.sort((x, y) => x.node_id.localeCompare(y.node_id))).toEqual([
        { node_id: 'gw-a', answer: { n: 7, who: ['a0', 'a1'] } },
        { node_id: 'gw-b', answer: { n: 4, who: ['b'] } },
      ]);
    }
  });

  it('merges by default: lists concatenated, objects with numbers added', async () => {
    const { a0, a1, main, b } = await cluster();
    a0.provide('clients', () => [{ id: 'x' }]);
    a1.provide('clients', () => [{ id: 'y' }, { id: 'z' }]);
    b.provide('clients', () => [{ id: 'w' }]);
    a0.provide('stats', () => ({ open: 1, by: { ws: 1 }, tags: ['a0'] }));
    a1.provide('stats', () => ({ open: 2, by: { ws: 2, sio: 1 }, tags: ['a1'] }));
    main.provide('stats', () => ({ open: 0, tags: [] }));
    const clients = await b.gather<{ id: string }[]>('clients');
    const ofA = clients.answers.find((a) => a.node_id === 'gw-a')?.answer;
    expect(ofA?.map((c) => c.id).sort()).toEqual(['x', 'y', 'z']);
    const stats = await a1.gatherNode<Record<string, unknown>>('stats');
    expect(stats.members).toEqual(['gw-a~0', 'gw-a~1', 'gw-a~main']);
    expect(stats.missing).toEqual([]);
    expect(stats.answer).toMatchObject({ open: 3, by: { ws: 3, sio: 1 } });
    expect((stats.answer?.['tags'] as string[]).sort()).toEqual(['a0', 'a1']);
  });

  it('gatherNode asks only the members of this node', async () => {
    const { a0, a1, main, b } = await cluster();
    const asked: string[] = [];
    for (const view of [a0, a1, main, b]) {
      view.provide('who', () => {
        asked.push(view.memberId);
        return [view.memberId];
      });
    }
    const result = await a0.gatherNode<string[]>('who');
    expect(result.answer?.sort()).toEqual(['gw-a~0', 'gw-a~1', 'gw-a~main']);
    expect(asked.sort()).toEqual(['gw-a~0', 'gw-a~1', 'gw-a~main']);
    asked.length = 0;
    expect(await b.gatherNode<string[]>('who')).toEqual({ answer: ['gw-b'], members: ['gw-b'], missing: [] });
    expect(asked).toEqual(['gw-b']);
  });

  it('concurrent questions of one kind share one round', async () => {
    const { a0, a1, main } = await cluster();
    let calls = 0;
    for (const view of [a0, a1, main]) {
      view.provide('count', () => {
        calls += 1;
        return { calls: 1 };
      });
    }
    const [first, second] = await Promise.all([a0.gatherNode('count'), a0.gatherNode('count')]);
    expect(first).toBe(second);
    expect(calls).toBe(3);
  });

  it('names a node missing when one of its members does not answer in time, with what the others said', async () => {
    const hub = new MemoryHub();
    const a0 = await member(hub, 'gw-a~0', 'gw-a', {}, 1_500);
    const a1 = await member(hub, 'gw-a~1', 'gw-a');
    const b = await member(hub, 'gw-b', undefined);
    a0.provide('stats', () => ({ open: 1 }));
    a1.provide('stats', () => new Promise(() => undefined)); // stuck: never answers
    b.provide('stats', () => ({ open: 4 }));
    const result = await a0.gather<{ open: number }>('stats');
    expect(result.missing).toEqual(['gw-a']);
    expect(result.answers.sort((x, y) => x.node_id.localeCompare(y.node_id))).toEqual([
      { node_id: 'gw-a', answer: { open: 1 } },
      { node_id: 'gw-b', answer: { open: 4 } },
    ]);
    const node = await a0.gatherNode<{ open: number }>('stats');
    expect(node).toEqual({ answer: { open: 1 }, members: ['gw-a~0'], missing: ['gw-a~1'] });
  });

  it('names a node missing when none of its members provides the kind', async () => {
    const { a0, b } = await cluster();
    b.provide('only-b', () => 1);
    expect(await a0.gather('only-b')).toEqual({ answers: [{ node_id: 'gw-b', answer: 1 }], missing: ['gw-a'] });
  });

  it('with one process per node, the member is the node', async () => {
    const hub = new MemoryHub();
    const solo = await member(hub, 'gw-solo', undefined, { connections: { stock: 2 } });
    solo.provide('stats', () => ({ open: 2 }));
    expect(solo.nodeId).toBe('gw-solo');
    expect(solo.memberId).toBe('gw-solo');
    expect(await solo.gather('stats')).toEqual({ answers: [{ node_id: 'gw-solo', answer: { open: 2 } }], missing: [] });
    expect(await solo.gatherNode('stats')).toEqual({ answer: { open: 2 }, members: ['gw-solo'], missing: [] });
    expect((await solo.nodes())[0]).toMatchObject({ node_id: 'gw-solo', members: 1, connections: { stock: 2 } });
  });
});
