import { Server } from 'socket.io';
import { GatewayError } from '@gw/core';
import { AfterPublishWrites, withUpgradeCork } from '@gw/uws';
import type { AdapterDeps, AttachedAdapter, ProtocolAdapter } from '@gw/connections';
import { defaultSocketIoConfig } from './config.js';
import type { SocketIoConfig } from './config.js';
import { TradingConnection } from './connection.js';
import { tolerantParser } from './tolerant-parser.js';
import { loopSessionId, withLoopRouting } from './loop-routing.js';
import { authenticate } from './handshake.js';
import type { HandshakeData } from './handshake.js';
import { TradingRooms } from './rooms.js';
import { createRoomPublisher } from './room-publish.js';
import type { TradingServer } from './rooms.js';
import { createTimestampFormatter } from './timestamp.js';

/**
 * socket.io's uWS integration patches socket.io-adapter's prototype to publish on the app it was attached to
 * last: two servers attached at once in one process would deliver each other's room pushes to the wrong app.
 */
let attachedInProcess = false;

/**
 * The Socket.IO trading protocol of the legacy trading service (contract section 3) as a gateway ProtocolAdapter.
 *
 * Guarantees:
 * - Socket.IO v4 (Engine.IO 4) at `/socket.io/`, polling and websocket, namespace `/`, on the gateway's one
 *   uWS app (`io.attachApp`);
 * - every connection goes through the connection pipeline's handshake gate (draining, per-address rate,
 *   token from `auth.token`, `Authorization` or `?token=`, per-user slot); a refusal is a `connect_error`
 *   naming the reason; a token that expires while connected gets `error` `{code: "token_expired"}` and a
 *   disconnect at `exp` (the pipeline's sweep); every event handler runs in the pipeline's exception boundary;
 * - a user receives only their own data (rooms are per user and type), on every socket they have open, for
 *   the types that socket subscribed to; the latest known value right after subscribing, then every change;
 * - bus interest in `trading.<user>.<type>` exists exactly while a local socket of that user is subscribed to
 *   that type, so the trading source polls only watched accounts;
 * - each push is serialized once and published to its room; nothing per socket on the hot path;
 * - while the gateway drains, new connections are refused (the client retries elsewhere);
 *   `close('shutdown')` of a registered client closes its transport so the client reconnects.
 *
 * One per process (see `attachedInProcess`); attaching a second while one is attached throws.
 */
export function createSocketIoAdapter(config: SocketIoConfig = defaultSocketIoConfig): ProtocolAdapter {
  return {
    protocol: 'socketio',
    attach(deps: AdapterDeps): AttachedAdapter {
      if (attachedInProcess) {
        throw new GatewayError('config_invalid', {
          message: 'only one Socket.IO adapter can be attached per process (socket.io patches uWS publishing process-wide)',
        });
      }
      attachedInProcess = true;
      return attachSocketIo(deps, config);
    },
  };
}

function attachSocketIo(deps: AdapterDeps, config: SocketIoConfig): AttachedAdapter {
  const { app, bus, metrics, connections } = deps;
  const logger = deps.logger;
  const allOrigins = config.corsOrigins.includes('*');
  const io: TradingServer = new Server({
    serveClient: false,
    // A packet that cannot be decoded is answered as bad input, not by ending the session (tolerant-parser.ts).
    parser: tolerantParser,
    maxHttpBufferSize: config.maxMessageBytes,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    cors: { origin: allOrigins ? '*' : config.corsOrigins },
    // Refused at the Engine.IO level while draining: the client's manager retries (and reaches another node),
    // which a namespace-level refusal would not make it do.
    // Engine.IO calls this for handshake requests only (not for every poll of an open session).
    allowRequest: (request, callback) => {
      // The client's address: through trusted proxies, the forwarded one (per-address admission, logs).
      const peer = (request as { connection?: { remoteAddress?: string } }).connection?.remoteAddress ?? '';
      const address = connections.clientAddresses.clientAddress(peer, (name) => {
        const value = request.headers[name];
        return Array.isArray(value) ? value[0] : value;
      });
      const refusal = connections.gate.precheck('socketio', address);
      callback(refusal?.error ?? null, refusal === undefined);
    },
  });
  // engine.io completes its WebSocket upgrades after an await, under the response's cork: see `withUpgradeCork`.
  // With several event loops, one polling session's requests land on any loop: they are routed to the loop
  // that holds the session (see loop-routing.ts).
  const loops = deps.loops;
  const engineApp =
    loops === undefined
      ? withUpgradeCork(app)
      : withLoopRouting(withUpgradeCork(app), {
          self: loops.self,
          privatePorts: loops.privatePorts,
          maxBodyBytes: config.maxMessageBytes,
          // A long poll is answered within pingInterval; past pingInterval + pingTimeout the owner is stuck.
          responseTimeoutMs: config.pingIntervalMs + config.pingTimeoutMs + 5_000,
          logger,
        });
  io.attachApp(engineApp, { maxBackpressure: config.maxBackpressureBytes } as Record<string, unknown>);
  if (loops !== undefined) {
    // Session ids name their loop, so the other loops can route polling requests here.
    io.engine.generateId = loopSessionId(loops.self);
  }

  const counters = { sent: 0, received: 0 };
  let totalConnections = 0;
  const rooms = new TradingRooms({
    io,
    bus,
    metrics,
    logger,
    counters,
    formatTimestamp: createTimestampFormatter(config.timestampTimeZone),
    // The raw app: socket.io publishes on it too (its view only wraps upgrades).
    publish: createRoomPublisher(io, app),
    written: new AfterPublishWrites((elapsedMs) => {
      metrics.deliveryLatency('socketio', elapsedMs / 1000);
    }),
  });

  io.use(authenticate(connections.gate));
  io.on('connection', (socket) => {
    connections.boundary.run('socketio', socket.id, 'connection', () => {
      totalConnections += 1;
      metrics.connectionOpened('socketio');
      const { principal } = socket.data as HandshakeData;
      const connection = new TradingConnection(socket, principal, {
        rooms,
        metrics,
        logger,
        connections,
        counters,
        limits: { messagesPerSecond: config.messagesPerSecond, messageBurst: config.messageBurst },
      });
      connection.start();
    });
  });

  let closing: Promise<void> | undefined;
  return {
    protocol: 'socketio',
    stats() {
      let open = 0;
      let subscriptions = 0;
      for (const client of connections.clients.all()) {
        if (client.protocol === 'socketio') {
          open += 1;
          subscriptions += client.subscriptions().length;
        }
      }
      return {
        connections: open,
        total_connections: totalConnections,
        subscriptions,
        messages_sent: counters.sent,
        messages_received: counters.received,
        user_streams: rooms.activeStreams,
      };
    },
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          void io.close(() => {
            resolve();
          });
        });
        await rooms.close();
        attachedInProcess = false;
      })();
      return closing;
    },
  };
}
