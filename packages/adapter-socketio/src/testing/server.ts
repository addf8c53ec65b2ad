import { Registry } from 'prom-client';
import { authConfig, createVerifier, mintDevToken } from '@gw/auth';
import type { Bus } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { createPromMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import { createConnectionPipeline } from '@gw/connections';
import type { AttachedAdapter, ClientRegistry } from '@gw/connections';
import { createAdmission } from '@gw/node-services';
import { createApp, listenAll } from '@gw/uws';
import { createSocketIoAdapter } from '../adapter.js';
import { socketioConfig } from '../config.js';

export const testSecret = 'socketio-test-secret-0123456789abcdef';

export interface SocketIoTestServer {
  url: string;
  bus: Bus;
  metrics: GatewayMetrics;
  registry: Registry;
  clients: ClientRegistry;
  lifecycle: { draining: boolean };
  adapter: AttachedAdapter;
  /** A token for `sub` signed with the server's secret (`expiresIn` in seconds or a jose span). */
  token(sub: string | number, expiresIn?: string | number): Promise<string>;
  close(): Promise<void>;
}

/**
 * The adapter alone on a real uWS app on 127.0.0.1 (kernel-chosen port), with a memory bus and HS256 tokens:
 * the package's own tests, without the whole gateway. `env` holds SOCKETIO_* settings.
 */
export async function startSocketIoServer(env: Record<string, string> = {}, bus: Bus = createMemoryBus()): Promise<SocketIoTestServer> {
  const config = loadConfig({ JWT_SECRET: testSecret, ...env }, { auth: authConfig, socketio: socketioConfig });
  const registry = new Registry();
  const metrics = createPromMetrics({ registry, collectDefaultMetrics: false });
  const verifier = await createVerifier(config.auth);
  const app = createApp(undefined);
  const lifecycle = { draining: false };
  const logger = createLogger({ level: 'silent' });
  const admission = createAdmission({ bus, nodeId: bus.nodeId, ratePerIp: 0, burstPerIp: 1, maxConnectionsPerUser: 0 });
  const connections = createConnectionPipeline({ app, verifier, admission, metrics, logger, lifecycle });
  const clients = connections.clients;
  const adapter = await createSocketIoAdapter(config.socketio).attach({ app, bus, metrics, logger, connections, adminToken: undefined });
  const listening = await listenAll(app, '127.0.0.1', [0]);
  return {
    url: `http://127.0.0.1:${listening.ports[0] ?? 0}`,
    bus,
    metrics,
    registry,
    clients,
    lifecycle,
    adapter,
    token: (sub, expiresIn = '1h') => mintDevToken({ secret: testSecret, sub, expiresIn }),
    async close() {
      for (const client of [...clients.all()]) {
        client.close('shutdown');
      }
      await adapter.close();
      connections.stop();
      admission.stop();
      listening.stopListening();
      await bus.close();
    },
  };
}
