import { AuthError, extractToken } from '@gw/auth';
import type { Principal } from '@gw/auth';
import { parseMessageId } from '@gw/bus';
import type { Envelope, Subscription } from '@gw/bus';
import { toGatewayError } from '@gw/core';
import { signalSchema, signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { MessageRateLimiter, admissionRefusals, refuseUpgrade, remoteAddressOf } from '@gw/uws';
import type { AdapterDeps, AttachedAdapter, HttpResponse, ProtocolAdapter, UserSlot, WebSocketBehavior } from '@gw/uws';
import { registerPublishRoute } from './api.js';
import type { SignalsAdapterConfig } from './config.js';
import { SignalConnection } from './connection.js';
import type { SignalSocketData } from './connection.js';
import { signalCloseCodes, signalErrorMessages } from './errors.js';
import { errorFrame, signalFrame } from './frames.js';
import { RecentSignals } from './recent.js';
import type { LiveSignal } from './recent.js';
import { Recovery } from './recovery.js';
import { symbolSchema } from './schema.js';

/** The paths of seed 003: the legacy clients connect to the bare host (`wss://host:port`). */
export const signalPaths = ['/', '/ws/signals'] as const;

/** Largest frame uWS itself accepts; anything between our limit and this gets a clean 1009 close from us. */
const UWS_MAX_PAYLOAD = 1_048_576;

/** How often connections are checked for unsent output over the bound and for an expired token. */
const SWEEP_MS = 250;

interface UpgradeRequest {
  authorization: string | undefined;
  query: URLSearchParams;
  key: string;
  protocol: string;
  extensions: string;
  remoteAddress: string;
}

const refuse = refuseUpgrade;

/** Parses `?symbols=`; a bad list is refused before the upgrade with a 400 naming the bad item. */
function parseSymbols(raw: string | null, max: number): ReadonlySet<string> | undefined | string {
  if (raw === null || raw.trim() === '') {
    return undefined;
  }
  const symbols = new Set<string>();
  for (const item of raw.split(',')) {
    if (item.trim() === '') {
      continue;
    }
    const parsed = symbolSchema.safeParse(item);
    if (!parsed.success) {
      return `symbols: ${JSON.stringify(item)} is not a symbol (letters and digits, e.g. BTCUSDT)`;
    }
    symbols.add(parsed.data);
  }
  if (symbols.size > max) {
    return `symbols: at most ${max} symbols`;
  }
  return symbols.size === 0 ? undefined : symbols;
}

/**
 * The signal broadcast protocol (seed 003): WebSocket at `/` and `/ws/signals`, token checked on the upgrade
 * request (401 before the socket opens), every signal serialized once and fanned out with uWS topics,
 * `?symbols=` filters, `?since=` gap-free recovery, the `test` command, `POST /api/signals`.
 */
export function createSignalsAdapter(config: SignalsAdapterConfig): ProtocolAdapter {
  return {
    protocol: 'signals',
    attach: (deps) => attachSignals(deps, config),
  };
}

async function attachSignals(deps: AdapterDeps, config: SignalsAdapterConfig): Promise<AttachedAdapter> {
  const { app, bus, verifier, metrics, logger, clients, lifecycle, admission } = deps;
  const connections = new Set<SignalConnection>();
  const recent = new RecentSignals(4_096);
  let nextClientId = 0;
  let totalConnections = 0;
  let messagesReceived = 0;
  /** Signals published to `sig:all`, and to each symbol topic that a connected client filters on. */
  let publishedAll = 0;
  const publishedBySymbol = new Map<string, { published: number; clients: number }>();

  const publishedCount = (symbols: ReadonlySet<string> | undefined): number => {
    if (symbols === undefined) {
      return publishedAll;
    }
    let n = 0;
    for (const symbol of symbols) {
      n += publishedBySymbol.get(symbol)?.published ?? 0;
    }
    return n;
  };

  const recovery = new Recovery({ bus, recent, logger, metrics });

  // --- live signals from the bus: validated and serialized once, then fanned out by uWS -------------------
  const onSignal = (envelope: Envelope<Signal>): void => {
    const parsed = signalSchema.safeParse(envelope.data);
    const id = envelope.id === undefined ? undefined : parseMessageId(envelope.id);
    if (!parsed.success || id === undefined) {
      metrics.sourceError('signals-adapter', 'invalid_data');
      logger.warn({ id: envelope.id, issues: parsed.error?.issues }, 'dropped an invalid signal from the bus');
      return;
    }
    const signal = parsed.data;
    const live: LiveSignal = {
      epoch: id.epoch,
      seq: id.seq,
      symbol: signal.content.symbol,
      type: signal.type,
      frame: signalFrame(signal, envelope.id, false),
    };
    recent.push(live);
    let delivered = app.numSubscribers('sig:all');
    if (delivered > 0) {
      app.publish('sig:all', live.frame, false);
    }
    publishedAll += 1;
    const bySymbol = publishedBySymbol.get(live.symbol);
    if (bySymbol !== undefined) {
      bySymbol.published += 1;
      const n = app.numSubscribers(`sig:s:${live.symbol}`);
      if (n > 0) {
        app.publish(`sig:s:${live.symbol}`, live.frame, false);
        delivered += n;
      }
    }
    delivered += recovery.onLive(live);
    if (delivered > 0) {
      metrics.messagesSent('signals', live.type, delivered);
      metrics.deliveryLatency('signals', Math.max(0, Date.now() - envelope.publishedAt) / 1000);
    }
  };
  const subscription: Subscription = await bus.subscribe<Signal>(signalsTopic, onSignal);

  const trackSymbols = (symbols: ReadonlySet<string> | undefined, delta: 1 | -1): void => {
    for (const symbol of symbols ?? []) {
      const entry = publishedBySymbol.get(symbol) ?? { published: 0, clients: 0 };
      entry.clients += delta;
      if (entry.clients <= 0) {
        publishedBySymbol.delete(symbol);
      } else {
        publishedBySymbol.set(symbol, entry);
      }
    }
  };

  // --- the handshake: everything read synchronously, then the token verified, then the upgrade ------------
  const upgrade = (request: UpgradeRequest, res: HttpResponse, context: unknown, isAborted: () => boolean): void => {
    const symbols = parseSymbols(request.query.get('symbols'), config.maxSymbols);
    if (typeof symbols === 'string') {
      refuse(res, 400, 'bad_request', symbols);
      return;
    }
    const found = extractToken({ authorization: request.authorization, query: request.query });
    if (found === undefined) {
      metrics.authFailure('signals', 'missing');
      refuse(res, 401, 'missing', 'unauthorized: token missing (Authorization: Bearer <token> or ?token=)');
      return;
    }
    const admit = async (principal: Principal): Promise<UserSlot | undefined> => {
      const slot = await admission.acquireUserSlot(principal.userId);
      if (slot === 'user_connection_limit') {
        if (!isAborted()) {
          metrics.clientError('signals', admissionRefusals.user_connection_limit.error);
          const refusal = admissionRefusals.user_connection_limit;
          refuse(res, refusal.status, refusal.error, refusal.message);
        }
        return undefined;
      }
      if (isAborted()) {
        slot.release();
        return undefined;
      }
      return slot;
    };
    verifier.verify(found.token).then(
      async (principal: Principal) => {
        if (isAborted()) {
          return;
        }
        const slot = await admit(principal);
        if (slot === undefined) {
          return;
        }
        nextClientId += 1;
        const since = request.query.get('since');
        const connection = new SignalConnection({
          clientId: `signals_${nextClientId}`,
          userId: principal.userId,
          remoteAddress: request.remoteAddress,
          symbols,
          since: since === null || since === '' ? undefined : since,
          expiresAt: principal.expiresAt,
          rateLimiter: new MessageRateLimiter(config.maxMessagesPerSecond),
          publishedCount,
          slot,
        });
        res.cork(() => {
          res.upgrade<SignalSocketData>({ connection }, request.key, request.protocol, request.extensions, context as never);
        });
      },
      (error: unknown) => {
        if (isAborted()) {
          return;
        }
        if (error instanceof AuthError) {
          metrics.authFailure('signals', error.reason);
          refuse(res, 401, error.reason, error.message);
        } else {
          const gatewayError = toGatewayError(error);
          logger.error({ err: error }, 'token verification failed');
          refuse(res, 503, gatewayError.code, 'token verification is unavailable, try again');
        }
      },
    ).catch((error: unknown) => {
      // Admission needs the bus (the per-user count); while it is down new connections wait outside.
      logger.warn({ err: error }, 'connection not admitted');
      if (!isAborted()) {
        refuse(res, 503, 'bus_unavailable', 'cannot admit connections right now, try again');
      }
    });
  };

  const behavior: WebSocketBehavior<SignalSocketData> = {
    maxPayloadLength: Math.max(UWS_MAX_PAYLOAD, config.maxFrameBytes),
    // Past this uWS stops queueing for the socket; the sweep closes slow consumers with 4008 well before.
    maxBackpressure: config.maxBufferedBytes * 4,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      if (lifecycle.draining) {
        refuse(res, 503, 'draining', 'the gateway is shutting down: reconnect to another node');
        return;
      }
      const remoteAddress = remoteAddressOf(res);
      if (!admission.allowAttemptFrom(remoteAddress)) {
        const refusal = admissionRefusals.ip_rate_limited;
        metrics.clientError('signals', refusal.error);
        refuse(res, refusal.status, refusal.error, refusal.message);
        return;
      }
      upgrade(
        {
          authorization: req.getHeader('authorization') || undefined,
          query: new URLSearchParams(req.getQuery()),
          key: req.getHeader('sec-websocket-key'),
          protocol: req.getHeader('sec-websocket-protocol'),
          extensions: req.getHeader('sec-websocket-extensions'),
          remoteAddress,
        },
        res,
        context,
        () => aborted,
      );
    },
    open: (ws) => {
      const connection = ws.getUserData().connection;
      connection.ws = ws;
      connections.add(connection);
      clients.add(connection);
      trackSymbols(connection.symbols, 1);
      totalConnections += 1;
      metrics.connectionOpened('signals');
      metrics.subscriptionAdded('signals', connection.symbols === undefined ? 'all' : 'symbols');
      if (connection.since === undefined) {
        connection.joinTopics();
      } else {
        // Not from inside `open`: promise continuations of the recovery could then run while uWS is still
        // completing the upgrade, and a send at that point makes uWS drop the new socket (seen as 1006).
        const since = connection.since;
        setImmediate(() => {
          recovery.start(connection, since);
        });
      }
    },
    message: (ws, message, isBinary) => {
      const connection = ws.getUserData().connection;
      connection.messagesReceived += 1;
      messagesReceived += 1;
      if (message.byteLength > config.maxFrameBytes) {
        metrics.messageReceived('signals', 'too_big');
        metrics.clientError('signals', 'message_too_big');
        connection.end(signalCloseCodes.messageTooBig);
        return;
      }
      const verdict = connection.rateLimiter.hit();
      if (verdict !== 'ok') {
        metrics.clientError('signals', 'rate_limited');
        if (verdict === 'abusive') {
          connection.end(signalCloseCodes.rateLimited);
        } else {
          connection.sendAlone(errorFrame('rate_limited', signalErrorMessages.rate_limited ?? 'rate limited'));
        }
        return;
      }
      if (isBinary) {
        metrics.messageReceived('signals', 'binary');
        metrics.clientError('signals', 'binary_not_supported');
        connection.sendAlone(errorFrame('binary_not_supported', signalErrorMessages.binary_not_supported ?? ''));
        return;
      }
      // uWS has already rejected invalid UTF-8 in text frames (it closes those connections itself).
      const text = Buffer.from(message).toString('utf8').trim();
      if (text === 'test') {
        metrics.messageReceived('signals', 'test');
        connection.sendAlone(testSignalFrame(connection));
        metrics.messagesSent('signals', 'test');
        return;
      }
      metrics.messageReceived('signals', 'unknown');
      metrics.clientError('signals', 'unknown_command');
      connection.sendAlone(errorFrame('unknown_command', signalErrorMessages.unknown_command ?? ''));
    },
    close: (ws, code) => {
      const connection = ws.getUserData().connection;
      connection.closed = true;
      connection.ws = undefined;
      connection.slot.release();
      recovery.forget(connection);
      connections.delete(connection);
      clients.remove(connection.clientId);
      trackSymbols(connection.symbols, -1);
      metrics.connectionClosed('signals');
      metrics.subscriptionRemoved('signals', connection.symbols === undefined ? 'all' : 'symbols');
      if (slowConsumers.delete(connection)) {
        logger.info({ client_id: connection.clientId, code }, 'slow consumer dropped');
      }
    },
  };
  for (const path of signalPaths) {
    app.ws<SignalSocketData>(path, behavior);
  }

  // --- one sweep for every connection, instead of timers per connection (memory per idle connection):
  // slow consumers are closed with 4008 (and counted) before uWS's hard limit drops them abruptly, and
  // connections whose token expired are closed with 4401 (within a sweep period of `exp`).
  const slowConsumers = new Set<SignalConnection>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const connection of connections) {
      const ws = connection.ws;
      if (ws === undefined) {
        continue;
      }
      if (connection.expiresAt !== undefined && now >= connection.expiresAt) {
        metrics.authFailure('signals', 'expired');
        connection.end(signalCloseCodes.tokenExpired);
      } else if (!slowConsumers.has(connection) && ws.getBufferedAmount() > config.maxBufferedBytes) {
        slowConsumers.add(connection);
        metrics.backpressureDisconnected('signals');
        logger.warn({ client_id: connection.clientId, buffered: ws.getBufferedAmount() }, 'slow consumer: closing');
        connection.end(signalCloseCodes.slowConsumer);
      }
    }
  }, SWEEP_MS);
  sweep.unref();

  registerPublishRoute(deps, config);

  return {
    protocol: 'signals',
    stats: () => ({
      connections: connections.size,
      total_connections: totalConnections,
      subscriptions: connections.size,
      messages_sent: [...connections].reduce((n, c) => n + c.messagesSent, 0),
      messages_received: messagesReceived,
    }),
    close: async () => {
      clearInterval(sweep);
      recovery.stop();
      await subscription.unsubscribe();
    },
  };
}

/**
 * A test signal for this client alone (seed 003's `test` command): its first filtered symbol, or BTCUSDT, at
 * the seed's example price. It has no `id`: it is not in history, so it can never be a `since` position.
 */
function testSignalFrame(connection: SignalConnection): string {
  const symbol = connection.symbols === undefined ? 'BTCUSDT' : ([...connection.symbols][0] ?? 'BTCUSDT');
  const price = 75_000;
  return signalFrame(
    { type: 'buy', content: { symbol, price, timestamp: Math.floor(Date.now() / 1000) }, source: 'test' },
    undefined,
    true,
  );
}
