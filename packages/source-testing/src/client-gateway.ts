import { Registry } from 'prom-client';
import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { createSocketIoAdapter, socketioConfig } from '@gw/adapter-socketio';
import { createStockAdapter, stockAdapterConfig } from '@gw/adapter-stock';
import { authConfig, createVerifier, mintDevToken } from '@gw/auth';
import type { Bus } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { createConnectionPipeline } from '@gw/connections';
import type { AttachedAdapter, ProtocolAdapter } from '@gw/connections';
import { createPromMetrics } from '@gw/metrics';
import { createAdmission } from '@gw/node-services';
import { runSource } from '@gw/source';
import type { DataSource } from '@gw/source';
import { createApp, listenAll } from '@gw/uws';

/**
 * The client protocols a source's data reaches clients through: the raw WebSocket ones (`/ws/stock/prices`,
 * `/ws/signals`) and the Socket.IO trading protocol (`/socket.io/`, per user).
 */
export type ClientProtocol = 'stock' | 'signals' | 'trading';

export interface SourceGatewayOptions {
  /** The protocol adapter to serve. */
  protocol: ClientProtocol;
  /** Sources to run on the gateway's bus, as `pnpm start` with SOURCES runs them (each announces its topics). */
  sources: readonly DataSource[];
  /** Settings of the adapter and of the sources, as environment variables (e.g. `STOCK_PUSH_INTERVAL_MS`, `SOCKETIO_*`). */
  env?: Record<string, string>;
  /** @default a fresh memory bus */
  bus?: Bus;
}

export interface SourceGateway {
  /** `ws://127.0.0.1:<port>`: append `/ws/stock/prices` or `/ws/signals`. */
  readonly wsUrl: string;
  /** `http://127.0.0.1:<port>`: what a Socket.IO client (`io(httpUrl, {auth: {token}})`) connects to. */
  readonly httpUrl: string;
  readonly bus: Bus;
  /** A token the gateway accepts (`Authorization: Bearer <token>`, Socket.IO's `auth.token`), for `sub`. */
  token(sub?: string | number): Promise<string>;
  /** Stops the sources, closes every connection and the port, then the bus. */
  close(): Promise<void>;
}

const testSecret = 'source-gateway-test-secret-0123456789';

/** The protocol's adapter, configured from `env` as the gateway configures it (apps/gateway/src/adapters.ts). */
function adapterFor(protocol: ClientProtocol, env: Record<string, string>): ProtocolAdapter {
  switch (protocol) {
    case 'stock':
      return createStockAdapter(loadConfig(env, { stock: stockAdapterConfig }).stock);
    case 'signals':
      return createSignalsAdapter(loadConfig(env, { signals: signalsAdapterConfig }).signals);
    case 'trading':
      // Socket.IO mounts itself on the uWS app (`io.attachApp`); one per process, so one such gateway at a time.
      return createSocketIoAdapter(loadConfig(env, { socketio: socketioConfig }).socketio);
  }
}

/**
 * For a source package's own tests: one protocol adapter on a real uWS app on 127.0.0.1 (kernel-chosen port),
 * the same connection pipeline as the gateway, and `sources` running on its bus through `runSource` (so they
 * announce what they publish, as in a gateway or a worker). A test connects with the protocol's real client
 * (`ws`; `socket.io-client` for `trading`) and sees what a client of the gateway would see, without depending on
 * the gateway app. The Socket.IO adapter can be attached once per process at a time: close a `trading` gateway
 * before starting another in the same test file.
 */
export async function startSourceGateway(options: SourceGatewayOptions): Promise<SourceGateway> {
  const env = { JWT_SECRET: testSecret, ...options.env };
  const bus = options.bus ?? createMemoryBus();
  const logger = createLogger({ level: 'silent' });
  const metrics = createPromMetrics({ registry: new Registry(), collectDefaultMetrics: false });
  const { auth } = loadConfig(env, { auth: authConfig });
  const verifier = await createVerifier(auth);
  const app = createApp(undefined);
  const lifecycle = { draining: false };
  const admission = createAdmission({ bus, nodeId: bus.nodeId, ratePerIp: 0, burstPerIp: 1, maxConnectionsPerUser: 0 });
  const connections = createConnectionPipeline({ app, verifier, admission, metrics, logger, lifecycle });
  let adapter: AttachedAdapter;
  try {
    adapter = await adapterFor(options.protocol, env).attach({ app, bus, metrics, logger, connections, adminToken: undefined });
  } catch (error) {
    // E.g. a second Socket.IO adapter in one process: release what was started, then say why.
    connections.stop();
    admission.stop();
    if (options.bus === undefined) {
      await bus.close();
    }
    throw error;
  }

  const sourcesAbort = new AbortController();
  const runs = options.sources.map((source) => {
    const { config } = loadConfig(env, { config: source.config });
    return runSource(source, config, { bus, logger, metrics }, sourcesAbort.signal);
  });
  const listening = await listenAll(app, '127.0.0.1', [0]);
  const port = listening.ports[0] ?? 0;
  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    bus,
    token: (sub = 1) => mintDevToken({ secret: testSecret, sub, expiresIn: '1h' }),
    async close() {
      sourcesAbort.abort();
      await Promise.all(runs);
      for (const client of [...connections.clients.all()]) {
        client.close('shutdown');
      }
      listening.stopListening();
      await adapter.close();
      connections.stop();
      admission.stop();
      await bus.close();
    },
  };
}
