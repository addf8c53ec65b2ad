import { arrayAt, asObject, numberAt, stringAt } from './wire.js';
import type { JsonObject } from './wire.js';

/** A gateway process of the cluster, as `GET /api/cluster/nodes` lists it. */
export interface GatewayNode {
  readonly nodeId: string;
  /** Open connections, all protocols together. */
  readonly connections: number | undefined;
  /** Open connections by protocol, when the node reports them that way. */
  readonly connectionsByProtocol: readonly (readonly [string, number])[];
  /** As the gateway sent it (ISO time or epoch milliseconds). */
  readonly startedAt: string | number | undefined;
  readonly draining: boolean;
  /** Any other scalar fields (bus state, ...), shown as they are. */
  readonly details: readonly (readonly [string, string])[];
}

const knownFields = new Set(['node_id', 'connections', 'started_at', 'draining']);

/**
 * `connections` as a number, or as `{protocol: count}` (what the gateway publishes per node): the total and,
 * for the latter, the breakdown.
 */
function connectionsOf(value: unknown): { total: number | undefined; byProtocol: [string, number][] } {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return { total: value, byProtocol: [] };
  }
  const perProtocol = asObject(value);
  if (perProtocol === undefined) {
    return { total: undefined, byProtocol: [] };
  }
  const byProtocol = Object.keys(perProtocol)
    .map((protocol) => [protocol, numberAt(perProtocol, protocol)] as const)
    .filter((entry): entry is [string, number] => entry[1] !== undefined);
  return { total: byProtocol.reduce((sum, [, count]) => sum + count, 0), byProtocol };
}

/** The nodes of `{nodes: [{node_id, connections, started_at, ...}]}`; entries without a `node_id` are skipped. */
export function clusterNodesOf(body: JsonObject): GatewayNode[] {
  const nodes: GatewayNode[] = [];
  for (const item of arrayAt(body, 'nodes')) {
    const node = asObject(item);
    const nodeId = stringAt(node, 'node_id');
    if (node === undefined || nodeId === undefined) {
      continue;
    }
    const details = Object.entries(node)
      .filter(([key, value]) => !knownFields.has(key) && ['string', 'number', 'boolean'].includes(typeof value))
      .map(([key, value]) => [key, String(value)] as const);
    const connections = connectionsOf(node['connections']);
    nodes.push({
      nodeId,
      connections: connections.total,
      connectionsByProtocol: connections.byProtocol,
      startedAt: stringAt(node, 'started_at') ?? numberAt(node, 'started_at'),
      draining: node['draining'] === true,
      details,
    });
  }
  return nodes;
}

/** This node, from `GET /api/ready`: ready (200) or not (503: draining, bus down), and its bus. */
export interface Readiness {
  readonly ready: boolean;
  readonly nodeId: string | undefined;
  readonly busKind: string | undefined;
  readonly draining: boolean;
  /** Why not ready (the 503 body's message). */
  readonly reason: string | undefined;
}

export function readinessOf(status: number, body: JsonObject | undefined): Readiness {
  const checks = asObject(body?.['checks']);
  return {
    ready: status === 200,
    nodeId: stringAt(body, 'node_id'),
    busKind: stringAt(checks, 'bus_kind'),
    draining: checks?.['draining'] === true,
    reason: status === 200 ? undefined : (stringAt(body, 'message') ?? `HTTP ${status}`),
  };
}

/** Milliseconds since the epoch of a `started_at` value, or undefined when it cannot be read. */
export function startedAtMs(startedAt: string | number | undefined): number | undefined {
  if (startedAt === undefined) {
    return undefined;
  }
  const ms = typeof startedAt === 'number' ? startedAt : Date.parse(startedAt);
  return Number.isFinite(ms) ? ms : undefined;
}
