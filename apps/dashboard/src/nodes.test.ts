import { describe, expect, it } from 'vitest';
import { clusterNodesOf, readinessOf, startedAtMs } from './nodes.js';

describe('clusterNodesOf', () => {
  it('reads per-protocol connections as a total with its breakdown, and keeps other scalar fields', () => {
    const body = {
      code: 200,
      count: 2,
      nodes: [
        { node_id: 'a', started_at: '2025-11-24T02:00:00.000Z', connections: { stock: 3, signals: 2 }, draining: false, bus: 'connected' },
        { node_id: 'b', started_at: 1_700_000_000_000, connections: 7, draining: true, extra: { nested: 1 } },
        { connections: 1 },
      ],
    };
    expect(clusterNodesOf(body)).toEqual([
      {
        nodeId: 'a',
        connections: 5,
        connectionsByProtocol: [
          ['stock', 3],
          ['signals', 2],
        ],
        startedAt: '2025-11-24T02:00:00.000Z',
        draining: false,
        details: [['bus', 'connected']],
      },
      { nodeId: 'b', connections: 7, connectionsByProtocol: [], startedAt: 1_700_000_000_000, draining: true, details: [] },
    ]);
  });

  it('answers no nodes for a body without a list', () => {
    expect(clusterNodesOf({ code: 200 })).toEqual([]);
  });
});

describe('readinessOf', () => {
  it('reads a ready node and a draining one', () => {
    expect(readinessOf(200, { status: 'ready', node_id: 'n1', checks: { bus: 'connected', bus_kind: 'redis', draining: false } })).toEqual({
      ready: true,
      nodeId: 'n1',
      busKind: 'redis',
      draining: false,
      reason: undefined,
    });
    expect(readinessOf(503, { code: 503, message: 'not ready: draining', error: 'draining', checks: { draining: true } })).toEqual({
      ready: false,
      nodeId: undefined,
      busKind: undefined,
      draining: true,
      reason: 'not ready: draining',
    });
    expect(readinessOf(502, undefined).reason).toBe('HTTP 502');
  });
});

describe('startedAtMs', () => {
  it('reads ISO times and epoch milliseconds, and nothing else', () => {
    expect(startedAtMs('2025-11-24T02:00:00.000Z')).toBe(Date.UTC(2025, 10, 24, 2));
    expect(startedAtMs(1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(startedAtMs('yesterday')).toBeUndefined();
    expect(startedAtMs(undefined)).toBeUndefined();
  });
});
