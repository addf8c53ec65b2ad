import { randomBytes } from 'node:crypto';
import { extractToken, isAuthError } from '@gw/auth';
import type { Principal } from '@gw/auth';
import { toGatewayError } from '@gw/core';
import { admissionRefusals, refuseUpgrade, remoteAddressOf } from '@gw/uws';
import type { AdapterDeps, AttachedAdapter, HttpResponse, ProtocolAdapter, UserSlot, WebSocket, WebSocketBehavior } from '@gw/uws';
import type { StockAdapterConfig } from './config.js';
import { StockConnection } from './connection.js';
import type { StockSocketData } from './connection.js';
import { errorFrame, stockCloseCodes } from './errors.js';
import type { StockErrorCode } from './errors.js';
import { StockFeed } from './feed.js';
import { StockHub } from './hub.js';
import { registerStockRoutes } from './routes.js';
import { clientMessageSchema, clientMessageTypes, subscriptionTypes } from './schema.js';
import type { SubscriptionRequest } from './schema.js';
import { wireTimestamp } from './time.js';

/** The WebSocket path of seed 004. */
export const STOCK_WS_PATH = '/ws/stock/prices';

/**
 * uWS's own frame limit: frames above it are dropped by uWS with an abrupt close (1006). Between
 * STOCK_MAX_FRAME_BYTES and this the adapter closes cleanly with 1009.
 */
const UWS_MAX_PAYLOAD = 1_048_576;

/** Longest timer Node accepts; token expiries further away are re-armed when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

const KNOWN_TYPES: ReadonlySet<string> = new Set(clientMessageTypes);
const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set(subscriptionTypes);

/**
 * The stock price protocol of seed 004 at `/ws/stock/prices` plus its REST routes. Pass the parsed `stock`
 * config section (`stockAdapterConfig`).
 */
export function createStockAdapter(config: StockAdapterConfig): ProtocolAdapter {
  return {
    protocol: 'stock',
    attach: (deps) => attachStock(deps, config),
  };
}

const refuse = refuseUpgrade;

/** Why a well-formed JSON value is not a valid client message, as the most specific error code. */
function classify(value: unknown): { code: StockErrorCode; details?: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'invalid_message' };
  }
  const message = value as Record<string, unknown>;
  const type = message['type'];
  if (typeof type !== 'string') {
    return { code: 'invalid_message' };
  }
  if (!KNOWN_TYPES.has(type)) {
    return { code: 'unknown_type', details: `unknown type ${JSON.stringify(type.slice(0, 64))}; expected subscribe, unsubscribe or ping` };
  }
  const kind = message['subscription_type'];
  if (kind === undefined || kind === null || kind === '') {
    return { code: 'missing_subscription_type' };
  }
  if (typeof kind !== 'string' || !SUBSCRIPTION_TYPES.has(kind)) {
    return {
      code: 'invalid_subscription_type',
      details: `subscription_type ${JSON.stringify(kind).slice(0, 80)} is not one of strategy, stock, market`,
    };
  }
  const target = message['target'];
  if (target === undefined || target === null || (typeof target === 'string' && target.trim() === '')) {
    return { code: 'missing_target' };
  }
  return { code: 'invalid_target', details: 'target must be a string of 1 to 64 characters' };
}

async function attachStock(deps: AdapterDeps, config: StockAdapterConfig): Promise<AttachedAdapter> {
  const { app, bus, verifier, metrics, logger, clients, lifecycle, admission } = deps;
  const hub = new StockHub({ app, metrics, logger, config });

  const sendError = (connection: StockConnection, code: StockErrorCode, details?: string): void => {
    hub.sendFrame(connection, errorFrame(code, details, wireTimestamp()));
    metrics.messagesSent('stock', 'error');
    metrics.clientError('stock', code);
  };

  const reply = (connection: StockConnection, type: string, frame: object): void => {
    hub.sendFrame(connection, JSON.stringify(frame));
    metrics.messagesSent('stock', type);
  };

  const onSubscription = (connection: StockConnection, request: SubscriptionRequest): void => {
    const kind = request.subscription_type;
    const now = Date.now();
    if (request.type === 'unsubscribe') {
      const target = kind === 'market' ? request.target.toUpperCase() : request.target;
      hub.unsubscribe(connection, kind, target);
      reply(connection, 'unsubscribed', {
        type: 'unsubscribed',
        subscription_type: kind,
        target,
        message: '取消订阅成功',
        timestamp: wireTimestamp(now),
      });
      return;
    }
    const check = hub.checkTarget(kind, request.target);
    if (!check.ok) {
      sendError(connection, check.error, check.details);
      return;
    }
    if (!hub.subscribe(connection, kind, check.target)) {
      sendError(
        connection,
        'too_many_subscriptions',
        `at most ${config.maxSubscriptions} subscriptions per connection; unsubscribe something first`,
      );
      return;
    }
    // The reply first, then the current prices (the legacy order: a client reads "subscribed" before data).
    reply(connection, 'subscribed', {
      type: 'subscribed',
      subscription_type: kind,
      target: check.target,
      message: '订阅成功',
      timestamp: wireTimestamp(now),
    });
    hub.sendSnapshot(connection, kind, check.target, now);
  };

  const onMessage = (connection: StockConnection, message: ArrayBuffer, isBinary: boolean): void => {
    connection.messagesReceived += 1;
    hub.messagesReceived += 1;
    const verdict = connection.limiter.hit();
    if (verdict === 'abusive') {
      metrics.messageReceived('stock', 'rate_limited');
      metrics.clientError('stock', 'rate_limited');
      hub.rateLimitCloses += 1;
      logger.info({ clientId: connection.clientId }, 'closing a client for sustained message flooding');
      connection.end(stockCloseCodes.rateLimited);
      return;
    }
    if (verdict === 'limited') {
      metrics.messageReceived('stock', 'rate_limited');
      sendError(connection, 'rate_limited', `more than ${config.maxMessagesPerSec} messages per second; this one was dropped`);
      return;
    }
    if (message.byteLength > config.maxFrameBytes) {
      metrics.messageReceived('stock', 'too_large');
      metrics.clientError('stock', 'frame_too_large');
      connection.end(stockCloseCodes.frameTooLarge);
      return;
    }
    if (isBinary) {
      metrics.messageReceived('stock', 'binary');
      sendError(connection, 'unsupported_frame');
      return;
    }
    if (message.byteLength > config.maxMessageBytes) {
      metrics.messageReceived('stock', 'too_large');
      sendError(connection, 'message_too_large', `message of ${message.byteLength} bytes; the limit is ${config.maxMessageBytes}`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(message).toString('utf8')) as unknown;
    } catch {
      metrics.messageReceived('stock', 'invalid');
      sendError(connection, 'invalid_json');
      return;
    }
    const parsed = clientMessageSchema.safeParse(value);
    if (!parsed.success) {
      const type = (value as { type?: unknown } | null)?.type;
      metrics.messageReceived('stock', typeof type === 'string' && KNOWN_TYPES.has(type) ? type : 'unknown');
      const { code, details } = classify(value);
      sendError(connection, code, details);
      return;
    }
    const request = parsed.data;
    metrics.messageReceived('stock', request.type);
    if (request.type === 'ping') {
      reply(connection, 'pong', { type: 'pong', timestamp: wireTimestamp() });
      return;
    }
    onSubscription(connection, request);
  };

  const armExpiry = (connection: StockConnection, expiresAt: number): void => {
    const delay = expiresAt - Date.now();
    connection.expiryTimer = setTimeout(
      () => {
        if (Date.now() >= expiresAt) {
          connection.end(stockCloseCodes.tokenExpired);
        } else {
          armExpiry(connection, expiresAt);
        }
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
    connection.expiryTimer.unref();
  };

  const upgradeWith = (
    res: HttpResponse,
    request: { key: string; protocol: string; extensions: string; remoteAddress: string },
    context: unknown,
    principal: Principal | undefined,
    slot: UserSlot | undefined,
  ): void => {
    res.upgrade<StockSocketData>(
      { remoteAddress: request.remoteAddress, principal, slot, connection: undefined },
      request.key,
      request.protocol,
      request.extensions,
      context as Parameters<HttpResponse['upgrade']>[4],
    );
  };

  const behavior: WebSocketBehavior<StockSocketData> = {
    maxPayloadLength: Math.max(UWS_MAX_PAYLOAD, config.maxFrameBytes),
    // uWS's own hard bound; price updates are held (conflated) well before it, at maxBufferedBytes.
    maxBackpressure: config.maxBufferedBytes * 4,
    idleTimeout: config.idleTimeoutSec,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      if (lifecycle.draining) {
        refuse(res, 503, 'draining', 'server is shutting down');
        return;
      }
      const request = {
        key: req.getHeader('sec-websocket-key'),
        protocol: req.getHeader('sec-websocket-protocol'),
        extensions: req.getHeader('sec-websocket-extensions'),
        remoteAddress: remoteAddressOf(res),
      };
      if (!admission.allowAttemptFrom(request.remoteAddress)) {
        const refusal = admissionRefusals.ip_rate_limited;
        metrics.clientError('stock', refusal.error);
        refuse(res, refusal.status, refusal.error, refusal.message);
        return;
      }
      if (!config.requireAuth) {
        upgradeWith(res, request, context, undefined, undefined);
        return;
      }
      const authorization = req.getHeader('authorization');
      const found = extractToken({ authorization: authorization === '' ? undefined : authorization, query: req.getQuery() });
      if (found === undefined) {
        metrics.authFailure('stock', 'missing');
        refuse(res, 401, 'unauthorized', 'unauthorized: no token');
        return;
      }
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      // A function: after an await TypeScript would still narrow `aborted` to its last checked value.
      const isAborted = (): boolean => aborted;
      verifier.verify(found.token).then(
        async (principal) => {
          if (aborted) {
            return;
          }
          const slot = await admission.acquireUserSlot(principal.userId);
          if (slot === 'user_connection_limit') {
            const refusal = admissionRefusals.user_connection_limit;
            metrics.clientError('stock', refusal.error);
            if (!isAborted()) {
              refuse(res, refusal.status, refusal.error, refusal.message);
            }
          } else if (isAborted()) {
            slot.release();
          } else {
            res.cork(() => {
              upgradeWith(res, request, context, principal, slot);
            });
          }
        },
        (error: unknown) => {
          if (aborted) {
            return;
          }
          if (isAuthError(error)) {
            metrics.authFailure('stock', error.reason);
            refuse(res, 401, error.code, error.message);
          } else {
            const failure = toGatewayError(error);
            logger.error({ err: error }, 'token verification failed');
            refuse(res, 503, failure.code, 'cannot verify tokens right now');
          }
        },
      ).catch((error: unknown) => {
        // Admission needs the bus (the per-user count); while it is down new connections wait outside.
        logger.warn({ err: error }, 'connection not admitted');
        if (!aborted) {
          refuse(res, 503, 'bus_unavailable', 'cannot admit connections right now, try again');
        }
      });
    },
    open: (ws: WebSocket<StockSocketData>) => {
      const data = ws.getUserData();
      const connection = new StockConnection(ws, `client_${randomBytes(6).toString('hex')}`, config.maxMessagesPerSec);
      data.connection = connection;
      hub.add(connection);
      clients.add(connection);
      metrics.connectionOpened('stock');
      const expiresAt = data.principal?.expiresAt;
      if (expiresAt !== undefined) {
        armExpiry(connection, expiresAt);
      }
      reply(connection, 'connected', {
        type: 'connected',
        client_id: connection.clientId,
        message: 'WebSocket连接成功',
        timestamp: wireTimestamp(),
      });
    },
    message: (ws, message, isBinary) => {
      const connection = ws.getUserData().connection;
      if (connection !== undefined && !connection.closed) {
        onMessage(connection, message, isBinary);
      }
    },
    close: (ws) => {
      const connection = ws.getUserData().connection;
      if (connection === undefined) {
        return;
      }
      clearTimeout(connection.expiryTimer);
      ws.getUserData().slot?.release();
      hub.remove(connection);
      clients.remove(connection.clientId);
      metrics.connectionClosed('stock');
    },
  };
  app.ws<StockSocketData>(STOCK_WS_PATH, behavior);

  registerStockRoutes({
    app,
    bus,
    hub,
    clients,
    metrics,
    logger,
    adminToken: deps.adminToken,
    protocolStats: () => deps.protocolStats(),
    cluster: deps.cluster,
  });

  const feed = new StockFeed({
    bus,
    hub,
    logger,
    onPush: (strategy) => {
      if (hub.hasStrategy(strategy)) {
        const pushed = hub.pushStrategy(strategy, Date.now());
        logger.info({ strategy, ...pushed }, 'pushed strategy prices');
      }
    },
  });
  await feed.start();

  const timer = setInterval(() => {
    try {
      hub.flush(Date.now());
    } catch (error) {
      logger.error({ err: error }, 'stock price flush failed');
    }
  }, config.pushIntervalMs);
  timer.unref();
  logger.info({ path: STOCK_WS_PATH, intervalMs: config.pushIntervalMs, strategies: config.strategies }, 'stock adapter attached');

  return {
    protocol: 'stock',
    stats: () => hub.stats(),
    close: async () => {
      clearInterval(timer);
      await feed.stop();
    },
  };
}
