import { randomUUID } from 'node:crypto';
import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import type { BusClusterFixture } from '@gw/bus/testing';
import type { RedisClient, RedisClusterClient } from '../clients.js';
import { createRedisBus } from '../redis-bus.js';

interface Node {
  bus: Bus;
  clients: { pub: RedisClient | RedisClusterClient; sub: RedisClient | RedisClusterClient };
  crashed: boolean;
}

/**
 * The nodes of a bus contract fixture on Redis (one server or a cluster): each node a bus on clients of its
 * own under one fresh prefix, crashable like a killed process (sockets dropped without QUIT or cleanup).
 */
export function redisBusNodes(
  newClients: () => Node['clients'],
  connectTimeoutMs: number,
): Pick<BusClusterFixture, 'createNode' | 'crashNode'> & { prefix: string; closeNodes: () => Promise<void> } {
  const prefix = `gwtest:${randomUUID().slice(0, 8)}:`;
  const nodes: Node[] = [];
  return {
    prefix,
    createNode: async (options = {}) => {
      const clients = newClients();
      const bus = createRedisBus({
        ...clients,
        prefix,
        ...(options.interestTtlMs === undefined ? {} : { interestTtlMs: options.interestTtlMs }),
        // Connection errors are expected while the backend restarts; tests that care pass their own.
        onError: options.onError ?? (() => undefined),
      });
      nodes.push({ bus, clients, crashed: false });
      await whenConnected(bus, connectTimeoutMs);
      return bus;
    },
    crashNode: (bus) => {
      const node = nodes.find((n) => n.bus === bus);
      if (node === undefined) {
        throw new Error('crashNode: not a node of this fixture');
      }
      node.crashed = true;
      node.clients.pub.disconnect();
      node.clients.sub.disconnect();
      return Promise.resolve();
    },
    closeNodes: async () => {
      await Promise.all(nodes.filter((n) => !n.crashed).map((n) => n.bus.close()));
    },
  };
}
