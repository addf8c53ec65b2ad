import { randomBytes } from 'node:crypto';
import { everyOnGrid } from '@gw/core';
import type { AdapterDeps, AttachedAdapter, ProtocolAdapter } from '@gw/connections';
import { SourceDirectory } from '@gw/topics';
import type { StockAdapterConfig } from './config.js';
import { StockConnection } from './connection.js';
import { errorFrame, stockCodeOf } from './errors.js';
import type { StockErrorCode } from './errors.js';
import { StockFeed } from './feed.js';
import { StockHub } from './hub.js';
import { registerStockRoutes } from './routes.js';
import type { SubscribedFrame } from './schema.js';
import { clientMessageSchema, clientMessageTypes, subscriptionTypes } from './schema.js';
import type { SubscriptionRequest } from './schema.js';
import { wireTimestamp } from './time.js';

/** The WebSocket path of the legacy stock price service. */
export const STOCK_WS_PATH = '/ws/stock/prices';

const KNOWN_TYPES: ReadonlySet<string> = new Set(clientMessageTypes);
const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set(subscriptionTypes);

/**
 * The stock price protocol of the legacy stock price service at `/ws/stock/prices` plus its REST routes. Pass
 * the parsed `stock` config section (`stockAdapterConfig`).
 */
export function createStockAdapter(config: StockAdapterConfig): ProtocolAdapter {
  return {
    protocol: 'stock',
    attach: (deps) => attachStock(deps, config),
  };
}

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
      // Described by its kind, never by serializing it: a client value can be nested thousands of levels deep.
      details: `subscription_type ${typeof kind === 'string' ? JSON.stringify(kind.slice(0, 40)) : `of type ${Array.isArray(kind) ? 'array' : typeof kind}`} is not one of strategy, stock, market`,
    };
  }
  const target = message['target'];
  if (target === undefined || target === null || (typeof target === 'string' && target.trim() === '')) {
    return { code: 'missing_target' };
  }
  return { code: 'invalid_target', details: 'target must be a string of 1 to 64 characters' };
}

async function attachStock(deps: AdapterDeps, config: StockAdapterConfig): Promise<AttachedAdapter> {
  const { app, bus, metrics, logger } = deps;
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
    const subscribed: SubscribedFrame = {
      type: 'subscribed',
      subscription_type: kind,
      target: check.target,
      message: '订阅成功',
      timestamp: wireTimestamp(now),
      ...(check.warning === undefined ? {} : { warning: check.warning }),
    };
    reply(connection, 'subscribed', subscribed);
    if (check.warning !== undefined) {
      // Counted with the client errors (code no_source), so an operator sees clients waiting for a source.
      metrics.clientError('stock', check.warning.code);
    }
    hub.sendSnapshot(connection, kind, check.target, now);
  };

  const onMessage = (connection: StockConnection, text: string): void => {
    const bytes = Buffer.byteLength(text);
    if (bytes > config.maxMessageBytes) {
      metrics.messageReceived('stock', 'too_large');
      sendError(connection, 'message_too_large', `message of ${bytes} bytes; the limit is ${config.maxMessageBytes}`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
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

  const onClose = (connection: StockConnection): void => {
    hub.remove(connection);
  };

  hub.endpoint = deps.connections.serveWebSocket<undefined>({
    protocol: 'stock',
    paths: [STOCK_WS_PATH],
    auth: config.requireAuth ? 'required' : 'none',
    limits: {
      maxFrameBytes: config.maxFrameBytes,
      messagesPerSecond: config.messagesPerSecond,
      messageBurst: config.messageBurst,
      maxBufferedBytes: config.maxBufferedBytes,
      slowConsumerGraceMs: config.slowClientTimeoutMs,
      idleTimeoutSec: config.idleTimeoutSec,
    },
    newClientId: () => `client_${randomBytes(6).toString('hex')}`,
    prepare: () => undefined,
    open: (link) => {
      const connection = new StockConnection(link, { onMessage, onClose });
      hub.add(connection);
      reply(connection, 'connected', {
        type: 'connected',
        client_id: connection.clientId,
        message: 'WebSocket连接成功',
        timestamp: wireTimestamp(),
      });
      return connection;
    },
    errorFrame: (code, message) => errorFrame(stockCodeOf(code), message, wireTimestamp()),
  });

  registerStockRoutes({ app, bus, hub, metrics, logger, adminToken: deps.adminToken });

  const feed = new StockFeed({
    bus,
    hub,
    logger,
    onPush: (strategy, requestedAt) => {
      if (hub.hasStrategy(strategy)) {
        const pushed = hub.pushStrategy(strategy, Date.now(), requestedAt);
        logger.info({ strategy, ...pushed }, 'pushed strategy prices');
      }
    },
  });
  await feed.start();

  // Strategies and quotes are served by what running sources announce, anywhere in the cluster.
  const directory = await SourceDirectory.start({
    bus,
    onChange: (sources) => {
      const added = hub.setAnnounced({ strategies: sources.strategies(), quotes: sources.serves('quotes') });
      for (const strategy of added) {
        feed.watchStrategy(strategy).catch((error: unknown) => {
          logger.warn({ err: error, strategy }, 'stock feed: reading an announced strategy failed');
        });
      }
      logger.info({ strategies: hub.strategies, quotes: sources.serves('quotes') }, 'stock sources changed');
    },
    onFailure: (error) => {
      logger.warn({ err: error }, 'stock adapter: reading source announcements failed; retrying');
    },
  });

  // On a fixed grid: a flush the loop's lag made late does not push the later ones back (see everyOnGrid).
  const timer = everyOnGrid(config.pushIntervalMs, () => {
    try {
      hub.flush(Date.now());
    } catch (error) {
      logger.error({ err: error }, 'stock price flush failed');
    }
  });
  logger.info({ path: STOCK_WS_PATH, intervalMs: config.pushIntervalMs, strategies: hub.strategies }, 'stock adapter attached');

  return {
    protocol: 'stock',
    stats: () => hub.stats(),
    legacyStats: () => hub.legacyStats(),
    close: async () => {
      timer.stop();
      await directory.close();
      await feed.stop();
    },
  };
}
