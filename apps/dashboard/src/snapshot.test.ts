import { describe, expect, it } from 'vitest';
import { bucketsSince, quantile, snapshotOf } from './snapshot.js';
import type { Buckets } from './snapshot.js';

const INF = Number.POSITIVE_INFINITY;

describe('quantile (as histogram_quantile estimates it)', () => {
  it('interpolates within the bucket that holds the rank', () => {
    const buckets: Buckets = [[0.001, 0], [0.01, 10], [0.1, 20], [INF, 20]];
    expect(quantile(buckets, 0.5)).toBeCloseTo(0.01);
    expect(quantile(buckets, 0.25)).toBeCloseTo(0.001 + 0.009 * 0.5);
    expect(quantile(buckets, 0.99)).toBeCloseTo(0.01 + 0.09 * 0.98);
  });

  it('answers the highest finite bound for a rank in +Inf, nothing without observations', () => {
    expect(quantile([[0.5, 1], [INF, 10]], 0.99)).toBe(0.5);
    expect(quantile([[0.5, 0], [INF, 0]], 0.5)).toBeUndefined();
  });
});

describe('bucketsSince', () => {
  it('is the observations between two samples, undefined after a reset', () => {
    expect(bucketsSince([[0.1, 5], [INF, 7]], [[0.1, 2], [INF, 3]])).toEqual([[0.1, 3], [INF, 4]]);
    expect(bucketsSince([[0.1, 1], [INF, 1]], [[0.1, 2], [INF, 3]])).toBeUndefined();
  });
});

describe('snapshotOf', () => {
  it('reads nodes, totals, workers and sources; protocols in console order; le bounds sorted', () => {
    const snapshot = snapshotOf({
      generated_at: 1000,
      served_by: 'gw-1',
      nodes: [{ node_id: 'gw-1', bus: { kind: 'redis', state: 'connected', lag_ms: 12 }, protocols: { signals: {}, stock: { connections: 2 } } }, { bogus: true }],
      missing_nodes: ['gw-3'],
      totals: { signals: { latency: { count: 3, buckets: { '+Inf': 3, '0.01': 2, '0.001': 1 } }, auth_failures: { expired: 2, x: 'no' } } },
      workers: [{ worker_id: 'w-1', state: 'down', last_seen_age_ms: 4000 }],
      sources: [{ name: 'heartbeat', process: 'worker', node_id: 'w-1', health: 'down', last_publish_age_ms: null, publishes: 4, errors: 0 }],
    });
    expect(snapshot?.nodes.map((n) => [n.nodeId, [...n.protocols.keys()], n.bus.lagMs])).toEqual([['gw-1', ['stock', 'signals'], 12]]);
    expect(snapshot?.missingNodes).toEqual(['gw-3']);
    const signals = snapshot?.totals.get('signals');
    expect(signals?.latency.buckets).toEqual([[0.001, 1], [0.01, 2], [INF, 3]]);
    expect([...(signals?.authFailures ?? [])]).toEqual([['expired', 2]]);
    expect(snapshot?.workers).toEqual([{ workerId: 'w-1', state: 'down', lastSeenAgeMs: 4000 }]);
    expect(snapshot?.sources[0]).toMatchObject({ name: 'heartbeat', health: 'down', lastPublishAgeMs: undefined, publishes: 4 });
  });

  it('refuses what is not a snapshot', () => {
    expect(snapshotOf({ code: 401, message: 'admin token required' })).toBeUndefined();
    expect(snapshotOf(undefined)).toBeUndefined();
  });
});
