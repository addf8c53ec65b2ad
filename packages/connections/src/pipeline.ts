import type { TokenVerifier } from '@gw/auth';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import type { Admission } from '@gw/node-services';
import { AdminAttemptLimiter, createClientAddressResolver } from '@gw/uws';
import type { ClientAddressResolver, TemplatedApp } from '@gw/uws';
import { ExceptionBoundary } from './boundary.js';
import { HandshakeGate } from './handshake.js';
import { ClientRegistry } from './registry.js';
import { ConnectionSweep } from './sweep.js';
import { serveWebSocket } from './websocket.js';
import type { WebSocketEndpoint, WebSocketProtocol } from './websocket.js';

export interface ConnectionPipelineDeps {
  app: TemplatedApp;
  verifier: TokenVerifier;
  admission: Admission;
  metrics: GatewayMetrics;
  logger: Logger;
  lifecycle: { readonly draining: boolean };
  /** Period of the expiry / slow-consumer sweep (tests shorten it). */
  sweepPeriodMs?: number;
  /** `TRUSTED_PROXIES`: peers whose X-Forwarded-For / X-Real-IP name the client (default: none). */
  trustedProxies?: readonly string[];
  /** `TOKEN_EXPIRY_NOTICE_S` in ms: how long before `exp` a connection gets `token_expiring` (default 60 s). */
  expiryNoticeMs?: number;
}

/**
 * Everything a connection needs besides its protocol, owned once for every protocol of the node. Raw
 * WebSocket protocols are served whole (`serveWebSocket`); Socket.IO, whose server owns its transport, uses
 * the same pieces: `gate` for its handshake, `InboundRateLimit` for its events, `sweep` for token expiry,
 * `boundary` around its handlers, `clients` for the client list and the drain.
 */
export interface ConnectionPipeline {
  readonly clients: ClientRegistry;
  readonly gate: HandshakeGate;
  readonly sweep: ConnectionSweep;
  readonly boundary: ExceptionBoundary;
  /**
   * The one way the node finds a client's address (`TRUSTED_PROXIES`): raw WebSocket upgrades, Socket.IO
   * handshakes and HTTP routes (`HttpDeps.clientAddresses`), hence admission, logs, metrics and the client list.
   */
  readonly clientAddresses: ClientAddressResolver;
  /** Failed admin-token attempts per client address, for every admin route of the node (`HttpDeps.adminAttempts`). */
  readonly adminAttempts: AdminAttemptLimiter;
  serveWebSocket<Context extends object | undefined>(protocol: WebSocketProtocol<Context>): WebSocketEndpoint;
  stop(): void;
}

export function createConnectionPipeline(deps: ConnectionPipelineDeps): ConnectionPipeline {
  const logger = deps.logger.child({ component: 'connections' });
  const clients = new ClientRegistry();
  const boundary = new ExceptionBoundary(deps.metrics, logger);
  const gate = new HandshakeGate({ verifier: deps.verifier, admission: deps.admission, metrics: deps.metrics, logger, lifecycle: deps.lifecycle });
  const clientAddresses = createClientAddressResolver(deps.trustedProxies ?? []);
  const adminAttempts = new AdminAttemptLimiter();
  const sweep = new ConnectionSweep({
    ...(deps.sweepPeriodMs === undefined ? {} : { periodMs: deps.sweepPeriodMs }),
    ...(deps.expiryNoticeMs === undefined ? {} : { expiryNoticeMs: deps.expiryNoticeMs }),
    onError: (error) => {
      logger.error({ err: error }, 'closing a connection from the sweep failed');
    },
  });
  return {
    clients,
    gate,
    sweep,
    boundary,
    clientAddresses,
    adminAttempts,
    serveWebSocket: (protocol) =>
      serveWebSocket({ app: deps.app, gate, sweep, boundary, clients, clientAddresses, metrics: deps.metrics, logger: deps.logger.child({ protocol: protocol.protocol }) }, protocol),
    stop: () => {
      sweep.stop();
    },
  };
}
