import { Server } from 'socket.io';
import { GatewayError } from '@gw/core';
import type { AdapterDeps, AttachedAdapter, ProtocolAdapter } from '@gw/uws';
import { defaultSocketIoConfig } from './config.js';
import type { SocketIoConfig } from './config.js';
import { TradingConnection } from './connection.js';
import { authenticate } from './handshake.js';
import type { HandshakeData } from './handshake.js';
import { TradingRooms } from './rooms.js';
import type { TradingServer } from './rooms.js';
import { createTimestampFormatter } from './timestamp.js';

/**
 * socket.io's uWS integration patches socket.io-adapter's prototype to publish on the app it was attached to
 * last: two servers attached at once in one process would deliver each other's room pushes to the wrong app.
 */
let attachedInProcess = false;

/**
 * The Socket.IO trading protocol (seeds 000, 001; contract section 3) as a gateway ProtocolAdapter.
 *
 * Guarantees:
 * - Socket.IO v4 (Engine.IO 4) at `/socket.io/`, polling and websocket, namespace `/`, on the gateway's one
 *   uWS app (`io.attachApp`);
 * - every connection is authenticated at the handshake (`auth.token`, `Authorization`, `?token=`); a refusal
 *   is a `connect_error` naming the reason; a token that expires while connected gets `error`
 *   `{code: "token_expired"}` and a disconnect at `exp`;
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

/** The adapter with default settings (what `main.ts` registers unless it loads `socketioConfig`). */
export const socketioAdapter: ProtocolAdapter = createSocketIoAdapter();

function attachSocketIo(deps: AdapterDeps, config: SocketIoConfig): AttachedAdapter {
  const { app, bus, verifier, metrics, clients, lifecycle, admission } = deps;
  const logger = deps.logger;
  const allOrigins = config.corsOrigins.includes('*');
  const io: TradingServer = new Server({
    serveClient: false,
    maxHttpBufferSize: config.maxMessageBytes,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    cors: { origin: allOrigins ? '*' : config.corsOrigins },
    // Refused at the Engine.IO level while draining: the client's manager retries (and reaches another node),
    // which a namespace-level refusal would not make it do.
    // Engine.IO calls this for handshake requests only (not for every poll of an open session).
    allowRequest: (request, callback) => {
      if (lifecycle.draining) {
        callback('draining', false);
        return;
      }
      const address = (request as { connection?: { remoteAddress?: string } }).connection?.remoteAddress ?? '';
      if (!admission.allowAttemptFrom(address)) {
        metrics.clientError('socketio', 'too_many_connections');
        callback('too_many_connections', false);
        return;
      }
      callback(null, true);
    },
  });
  io.attachApp(app, { maxBackpressure: config.maxBackpressureBytes } as Record<string, unknown>);

  const counters = { sent: 0, received: 0 };
  let totalConnections = 0;
  const rooms = new TradingRooms({
    io,
    bus,
    metrics,
    logger,
    counters,
    formatTimestamp: createTimestampFormatter(config.timestampTimeZone),
  });

  io.use(authenticate({ verifier, metrics, logger, lifecycle, admission }));
  io.on('connection', (socket) => {
    totalConnections += 1;
    metrics.connectionOpened('socketio');
    const { principal, slot } = socket.data as HandshakeData;
    socket.once('disconnect', () => {
      slot.release();
    });
    const connection = new TradingConnection(socket, principal, {
      rooms,
      metrics,
      logger,
      clients,
      counters,
      limits: { messagesPerSecond: config.messagesPerSecond, messageBurst: config.messageBurst },
    });
    connection.start();
  });

  let closing: Promise<void> | undefined;
  return {
    protocol: 'socketio',
    stats() {
      let connections = 0;
      let subscriptions = 0;
      for (const client of clients.all()) {
        if (client.protocol === 'socketio') {
          connections += 1;
          subscriptions += client.subscriptions().length;
        }
      }
      return {
        connections,
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
