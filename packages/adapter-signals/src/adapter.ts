import { BusChannel, parseMessageId } from '@gw/bus';
import type { Envelope } from '@gw/bus';
import type { AdapterDeps, AttachedAdapter, ProtocolAdapter } from '@gw/connections';
import { signalProducerSchema, signalSchema, signalsTopic } from '@gw/topics';
import { AfterPublishWrites } from '@gw/uws';
import type { Signal } from '@gw/topics';
import { registerPublishRoute } from './api.js';
import type { SignalsAdapterConfig } from './config.js';
import { SignalConnection, anyProducer, signalTopic } from './connection.js';
import type { SignalContext } from './connection.js';
import { signalErrorFrame } from './errors.js';
import { signalFrame } from './frames.js';
import { RecentSignals } from './recent.js';
import type { LiveSignal } from './recent.js';
import { Recovery } from './recovery.js';
import { symbolSchema } from './schema.js';

/** The paths of the legacy signal service: its clients connect to the bare host (`wss://host:port`). */
export const signalPaths = ['/', '/ws/signals'] as const;

/**
 * Parses `?sources=`: the producers (`crypto-signals,volume_wave`), undefined for every producer (`*`), the
 * default set when absent, or what is wrong with it (the upgrade gets a 400). Names are not checked against
 * the running producers: one may start later, and its signals then reach the clients that asked for it.
 */
function parseSources(raw: string | null, defaults: ReadonlySet<string> | undefined, max: number): ReadonlySet<string> | undefined | string {
  if (raw === null || raw.trim() === '') {
    return defaults;
  }
  const sources = new Set<string>();
  for (const item of raw.split(',')) {
    const name = item.trim();
    if (name === '') {
      continue;
    }
    if (name === anyProducer) {
      return undefined;
    }
    if (!signalProducerSchema.safeParse(name).success) {
      return `sources: ${JSON.stringify(name.slice(0, 40))} is not a producer name (lower-case letters, digits, _ and -, e.g. crypto-signals), or * for every producer`;
    }
    sources.add(name);
  }
  if (sources.size > max) {
    return `sources: at most ${max} producers`;
  }
  return sources.size === 0 ? defaults : sources;
}

/** Parses `?symbols=`: the set, undefined for all, or what is wrong with it (the upgrade gets a 400). */
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
      return `symbols: ${JSON.stringify(item.slice(0, 40))} is not a symbol (letters and digits, e.g. BTCUSDT)`;
    }
    symbols.add(parsed.data);
  }
  if (symbols.size > max) {
    return `symbols: at most ${max} symbols`;
  }
  return symbols.size === 0 ? undefined : symbols;
}

/**
 * The signal broadcast protocol of the legacy signal service: WebSocket at `/` and `/ws/signals` (token
 * required, checked by the connection pipeline before the socket opens), every signal serialized once and
 * fanned out with uWS topics, `?sources=` (producers; SIGNALS_DEFAULT_SOURCES without it) and `?symbols=`
 * filters, `?since=` gap-free recovery among the chosen producers, the `test` command, `POST /api/signals`.
 */
export function createSignalsAdapter(config: SignalsAdapterConfig): ProtocolAdapter {
  return {
    protocol: 'signals',
    attach: (deps) => attachSignals(deps, config),
  };
}

async function attachSignals(deps: AdapterDeps, config: SignalsAdapterConfig): Promise<AttachedAdapter> {
  const { app, bus, metrics, logger } = deps;
  const sessions = new Set<SignalConnection>();
  const recent = new RecentSignals(4_096);
  let nextClientId = 0;
  const defaultSources: ReadonlySet<string> | undefined = config.defaultSources.includes(anyProducer) ? undefined : new Set(config.defaultSources);
  /** Signals published to each uWS topic some connected client's filter selects (see `signalTopic`). */
  const publishedByTopic = new Map<string, { published: number; clients: number }>();

  const publishedCount = (topics: readonly string[]): number => {
    let n = 0;
    for (const topic of topics) {
      n += publishedByTopic.get(topic)?.published ?? 0;
    }
    return n;
  };

  const trackTopics = (topics: readonly string[], delta: 1 | -1): void => {
    for (const topic of topics) {
      const entry = publishedByTopic.get(topic) ?? { published: 0, clients: 0 };
      entry.clients += delta;
      if (entry.clients <= 0) {
        publishedByTopic.delete(topic);
      } else {
        publishedByTopic.set(topic, entry);
      }
    }
  };

  /** Publishes a live signal's frame to one uWS topic when a client's filter selects it; returns the receivers. */
  const publishTo = (topic: string, frame: string): number => {
    const entry = publishedByTopic.get(topic);
    if (entry === undefined) {
      return 0;
    }
    entry.published += 1;
    const n = app.numSubscribers(topic);
    if (n > 0) {
      app.publish(topic, frame, false);
    }
    return n;
  };

  const recovery = new Recovery({ bus, recent, logger, metrics });
  // A signal's delivery latency runs until uWS has written its publishes to the sockets (see AfterPublishWrites).
  const written = new AfterPublishWrites((elapsedMs) => {
    metrics.deliveryLatency('signals', elapsedMs / 1000);
  });

  // --- fan-out: each live signal validated and serialized once, then published to the uWS topics ---------
  const onSignal = (envelope: Envelope): void => {
    const parsed = signalSchema.safeParse(envelope.data);
    const id = envelope.id === undefined ? undefined : parseMessageId(envelope.id);
    if (!parsed.success || id === undefined) {
      metrics.sourceError('signals-adapter', 'invalid_data');
      logger.warn({ id: envelope.id, issues: parsed.error?.issues }, 'dropped an invalid signal from the bus');
      return;
    }
    const signal: Signal = parsed.data;
    const live: LiveSignal = {
      epoch: id.epoch,
      seq: id.seq,
      symbol: signal.content.symbol,
      source: signal.source,
      type: signal.type,
      publishedAt: envelope.publishedAt,
      frame: signalFrame(signal, envelope.id, false),
    };
    recent.push(live);
    // One serialization, up to four topics; a client joined at most one of them (see `signalTopic`).
    let delivered = 0;
    for (const producer of [anyProducer, live.source]) {
      delivered += publishTo(signalTopic(producer, undefined), live.frame);
      delivered += publishTo(signalTopic(producer, live.symbol), live.frame);
    }
    delivered += recovery.onLive(live);
    if (delivered > 0) {
      metrics.messagesSent('signals', live.type, delivered);
      written.add(envelope.publishedAt);
    }
  };
  const channel = new BusChannel({
    bus,
    topic: signalsTopic,
    declareInterest: false,
    withLatest: false,
    onMessage: onSignal,
    onFailure: (error) => {
      logger.warn({ err: error }, 'signals: bus subscription failed; retrying');
    },
    // Signals published while the subscription was down never arrive live: live clients wait, then get them
    // from history (see `Recovery`).
    onInterrupted: () => {
      recovery.interrupt(sessions);
    },
    onRestored: () => {
      recovery.restore();
    },
  });
  const adapterMember = {};
  await channel.add(adapterMember);
  if (channel.live) {
    await recovery.learnStartPosition();
  }

  // --- message handling: the `test` command; everything else is unknown ------------------------------------
  const onMessage = (session: SignalConnection, text: string): void => {
    if (text.trim() === 'test') {
      metrics.messageReceived('signals', 'test');
      session.sendAlone(testSignalFrame(session));
      metrics.messagesSent('signals', 'test');
      return;
    }
    metrics.messageReceived('signals', 'unknown');
    metrics.clientError('signals', 'unknown_command');
    session.sendAlone(signalErrorFrame('unknown_command'));
  };

  const onClose = (session: SignalConnection): void => {
    sessions.delete(session);
    recovery.forget(session);
    trackTopics(session.topics, -1);
    metrics.subscriptionRemoved('signals', session.symbols === undefined ? 'all' : 'symbols');
  };

  const endpoint = deps.connections.serveWebSocket<SignalContext>({
    protocol: 'signals',
    paths: signalPaths,
    auth: 'required',
    limits: {
      maxFrameBytes: config.maxFrameBytes,
      messagesPerSecond: config.messagesPerSecond,
      messageBurst: config.messageBurst,
      maxBufferedBytes: config.maxBufferedBytes,
      slowConsumerGraceMs: 0,
      idleTimeoutSec: 120,
    },
    newClientId: () => {
      nextClientId += 1;
      return `signals_${nextClientId}`;
    },
    prepare: (query) => {
      const symbols = parseSymbols(query.get('symbols'), config.maxSymbols);
      if (typeof symbols === 'string') {
        return symbols;
      }
      const sources = parseSources(query.get('sources'), defaultSources, config.maxSources);
      if (typeof sources === 'string') {
        return sources;
      }
      const since = query.get('since');
      return { sources, symbols, since: since === null || since === '' ? undefined : since };
    },
    open: (connection) => {
      const session = new SignalConnection(connection, publishedCount, { onMessage, onClose });
      sessions.add(session);
      trackTopics(session.topics, 1);
      metrics.subscriptionAdded('signals', session.symbols === undefined ? 'all' : 'symbols');
      const since = connection.context.since;
      if (since === undefined) {
        recovery.join(session);
      } else {
        // On the next turn, once uWS has finished the upgrade: `open` stays short and the recovery's reads and
        // sends never run inside it.
        setImmediate(() => {
          recovery.start(session, since);
        });
      }
      return session;
    },
    errorFrame: (code, message) => signalErrorFrame(code, message),
  });

  registerPublishRoute(deps, config);

  return {
    protocol: 'signals',
    stats: () => ({
      connections: endpoint.connections,
      total_connections: endpoint.totalConnections,
      subscriptions: sessions.size,
      messages_sent: [...sessions].reduce((n, s) => n + s.connection.messagesSent, 0),
      messages_received: endpoint.messagesReceived,
      rate_limit_closes: endpoint.rateLimitCloses,
      slow_consumer_closes: endpoint.slowConsumerCloses,
    }),
    close: async () => {
      recovery.stop();
      await channel.close();
    },
  };
}

/**
 * A test signal for this client alone (the legacy `test` command): its first filtered symbol, or BTCUSDT, at
 * the legacy example price. It has no `id`: it is not in history, so it can never be a `since` position.
 */
function testSignalFrame(session: SignalConnection): string {
  const symbol = session.symbols === undefined ? 'BTCUSDT' : ([...session.symbols][0] ?? 'BTCUSDT');
  return signalFrame({ type: 'buy', content: { symbol, price: 75_000, timestamp: Math.floor(Date.now() / 1000) }, source: 'test' }, undefined, true);
}
