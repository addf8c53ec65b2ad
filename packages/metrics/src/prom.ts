import { Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Registry } from 'prom-client';
import type { GatewayMetrics, PollResult, Protocol, SourceMode } from './types.js';

/** Options of {@link createPromMetrics}. */
export interface PromMetricsOptions {
  /**
   * Where the metrics are registered. Injected, never prom-client's global registry, so that tests and
   * several instances in one process (gateway and worker in a test) do not collide. One registry holds at
   * most one `createPromMetrics` instance of a given prefix: a second one throws on the duplicate names.
   */
  registry: Registry;
  /** Prefix of the gateway's own metric names. Default `gateway_`. */
  prefix?: string;
  /**
   * Also register prom-client's Node process metrics (CPU, memory, event loop, GC) under their standard names
   * (`process_*`, `nodejs_*`, never prefixed), which the usual Node.js dashboards and alerts look for. Default
   * true. They exist once per registry: a second instance on the same registry must pass false.
   */
  collectDefaultMetrics?: boolean;
  /**
   * Labels added to every series of the registry (for example `{ node: 'gw-1', role: 'gateway' }`), set as the
   * registry's default labels so they also reach the process metrics. Replaces default labels set before.
   */
  labels?: Record<string, string>;
}

/** Default prefix of the gateway's own metric names. */
export const DEFAULT_METRICS_PREFIX = 'gateway_';

/** The client-facing realtime protocols, whose per-protocol series are created at zero up front. */
export const REALTIME_PROTOCOLS: readonly Protocol[] = ['socketio', 'stock', 'signals'];

/**
 * Buckets of the delivery-latency histogram, in seconds: 0.5 ms (same host, idle) to 5 s (a stalled bus or a
 * client on a slow link). Finer at the low end because that is where a healthy gateway lives.
 */
export const DELIVERY_LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/**
 * Buckets of histograms of synchronous work that holds the event loop, in seconds: 0.5 ms to 1 s, finest around
 * the 10 to 20 ms a well-behaved periodic task should stay under.
 */
export const LOOP_BLOCK_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1];

/** Buckets of the source-poll histogram, in seconds: a poll is an HTTP call to an upstream API, with timeouts in tens of seconds. */
export const SOURCE_POLL_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const BUS_MESSAGE_KINDS = ['live', 'latest', 'history'] as const;
type BusMessageKind = (typeof BUS_MESSAGE_KINDS)[number];

/** Memoises one label child per label value, so the hot path does a Map lookup instead of building a label object. */
function cache1<C>(make: (a: string) => C): (a: string) => C {
  const children = new Map<string, C>();
  return (a) => {
    let child = children.get(a);
    if (child === undefined) {
      child = make(a);
      children.set(a, child);
    }
    return child;
  };
}

/** Two-label variant of {@link cache1}: nested Maps, so no key string is concatenated per call. */
function cache2<C>(make: (a: string, b: string) => C): (a: string, b: string) => C {
  const outer = new Map<string, Map<string, C>>();
  return (a, b) => {
    let inner = outer.get(a);
    if (inner === undefined) {
      inner = new Map();
      outer.set(a, inner);
    }
    let child = inner.get(b);
    if (child === undefined) {
      child = make(a, b);
      inner.set(b, child);
    }
    return child;
  };
}

/**
 * Counter children of the hot paths (a message written, a source polled: thousands a second), summed locally
 * and handed to prom-client when the counter is read: prom-client rebuilds the label hash and checks the
 * labels at every `inc`, even of a child. The counter's `collect` (run by prom-client before every read of
 * it) flushes, so what a scrape or a test reads is exact.
 */
class PendingCounts {
  readonly #children: { pending: number; readonly child: { inc(value: number): void } }[] = [];

  /** A child of `child` whose `add` is a plain addition. */
  child(child: { inc(value: number): void }): { add(value: number): void } {
    const entry = { pending: 0, child };
    this.#children.push(entry);
    return {
      add: (value) => {
        entry.pending += value;
      },
    };
  }

  readonly flush = (): void => {
    for (const entry of this.#children) {
      if (entry.pending > 0) {
        const value = entry.pending;
        entry.pending = 0;
        entry.child.inc(value);
      }
    }
  };
}

/** One series of a prom-client 15 histogram as it keeps it (see {@link PendingObservations}). */
interface HistogramSeries {
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * Histogram children of the hot paths (a push fanned out, a source polled: thousands a second), counted
 * locally into their buckets and added to prom-client's series when the histogram is read. Why: prom-client's
 * `observe`, even on a label child, rebuilds the label object, checks it and hashes it into a string at every
 * call (about a microsecond; it was 5% of the gateway's CPU under 5,000 trading users).
 *
 * The series is created with `zero(labels)` (public) and then updated in place: prom-client 15 keeps each
 * series as `{ labels, bucketValues (count per upper bound), sum, count }` in `hashMap`. That shape is
 * prom-client's own, not its API: prom.test reads the exported buckets, sum and count after observations
 * through here, so a prom-client that keeps its series differently fails there, not in production.
 */
class PendingObservations {
  readonly #children: { readonly bounds: readonly number[]; readonly counts: number[]; sum: number; count: number; readonly series: HistogramSeries }[] = [];

  /** A child of `histogram` for `labels`, whose `observe` is a bucket search and three additions. */
  child(histogram: Histogram, bounds: readonly number[], labels: Record<string, string>): { observe(value: number): void } {
    histogram.zero(labels);
    const hashMap = (histogram as unknown as { hashMap: Record<string, HistogramSeries & { labels: Record<string, string> }> }).hashMap;
    const series = Object.values(hashMap).find((candidate) => sameLabels(candidate.labels, labels));
    if (series === undefined) {
      throw new Error(`prom-client did not create the series ${JSON.stringify(labels)}: its histogram internals changed`);
    }
    // One count per bound, plus the observations above every bound (+Inf only).
    const entry = { bounds, counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0, series };
    this.#children.push(entry);
    return {
      observe: (value) => {
        let index = 0;
        while (index < bounds.length && value > (bounds[index] as number)) {
          index += 1;
        }
        entry.counts[index] = (entry.counts[index] as number) + 1;
        entry.sum += value;
        entry.count += 1;
      },
    };
  }

  readonly flush = (): void => {
    for (const entry of this.#children) {
      if (entry.count === 0) {
        continue;
      }
      const { series, bounds, counts } = entry;
      for (let i = 0; i < bounds.length; i += 1) {
        const bound = bounds[i] as number;
        series.bucketValues[bound] = (series.bucketValues[bound] ?? 0) + (counts[i] as number);
        counts[i] = 0;
      }
      counts[bounds.length] = 0;
      series.sum += entry.sum;
      series.count += entry.count;
      entry.sum = 0;
      entry.count = 0;
    }
  };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/**
 * A count worth adding. Metrics must never throw into the caller's hot path, and prom-client throws on a
 * negative or non-finite increment, so such values (bugs upstream) are dropped; zero is a no-op anyway.
 */
function positive(count: number): boolean {
  return count > 0 && count !== Number.POSITIVE_INFINITY;
}

/**
 * Gateway metrics over prom-client, registered in the injected registry.
 *
 * Series whose labels are known in advance (each realtime protocol, each bus message kind) are created at zero
 * so dashboards and `rate()` see zeros rather than missing series. Label values that are free strings (message
 * type, reason, code, source, route) come from the gateway's own code, never from clients, so cardinality
 * stays bounded; callers pass route patterns, not raw paths.
 *
 * @throws if a metric of the same name is already registered in `options.registry`, or `prefix` is not a valid
 *   metric-name prefix.
 */
export function createPromMetrics(options: PromMetricsOptions): GatewayMetrics {
  const registry = options.registry;
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  const registers = [registry];

  if (options.labels !== undefined && Object.keys(options.labels).length > 0) {
    registry.setDefaultLabels(options.labels);
  }
  if (options.collectDefaultMetrics ?? true) {
    // No prefix: these are the standard Node names every exporter shares. Labels are not passed here: the
    // registry's default labels already add them, and both would duplicate them.
    collectDefaultMetrics({ register: registry });
  }

  const connections = new Gauge({
    name: `${prefix}connections`,
    help: 'Open client connections, by protocol.',
    labelNames: ['protocol'] as const,
    registers,
  });
  const connectionsOpened = new Counter({
    name: `${prefix}connections_opened_total`,
    help: 'Client connections accepted, by protocol.',
    labelNames: ['protocol'] as const,
    registers,
  });
  const connectionsClosed = new Counter({
    name: `${prefix}connections_closed_total`,
    help: 'Client connections closed, by protocol and close code (WebSocket) or disconnect reason (Socket.IO).',
    labelNames: ['protocol', 'code'] as const,
    registers,
  });
  const authFailures = new Counter({
    name: `${prefix}auth_failures_total`,
    help: 'Refused handshakes and expired tokens, by protocol and reason.',
    labelNames: ['protocol', 'reason'] as const,
    registers,
  });
  const sentPending = new PendingCounts();
  const messagesSent = new Counter({
    name: `${prefix}messages_sent_total`,
    help: 'Messages written to client sockets, by protocol and message type.',
    labelNames: ['protocol', 'type'] as const,
    registers,
    collect: sentPending.flush,
  });
  const messagesReceived = new Counter({
    name: `${prefix}messages_received_total`,
    help: 'Messages received from clients, by protocol and message type.',
    labelNames: ['protocol', 'type'] as const,
    registers,
  });
  const subscriptions = new Gauge({
    name: `${prefix}subscriptions`,
    help: 'Active client subscriptions, by protocol and subscription kind.',
    labelNames: ['protocol', 'kind'] as const,
    registers,
  });
  const latencyPending = new PendingObservations();
  const deliveryLatency = new Histogram({
    name: `${prefix}delivery_latency_seconds`,
    help:
      "Seconds from a message's publish to the moment the gateway has handed the last write of its fan-out to the client sockets, by protocol; one observation per message per fan-out (stock: per quote per interval flush that wrote it, and per manual push). " +
      "Starts at the publisher's clock: the envelope's publishedAt, stamped when the source or worker handed it to the bus; for POST /api/signals and the stock manual push, the request's arrival (before its body is read). " +
      'Includes the bus (Redis and its connections), event-loop queueing on the receiving gateway before the fan-out runs, the stock conflation wait (up to STOCK_PUSH_INTERVAL_MS) and the fan-out itself. ' +
      "Excludes time in the socket send buffers, the network to the client and the client's own queueing; a stored value replayed on subscribe is not observed. Clock skew between hosts adds to it (a negative difference counts as 0).",
    labelNames: ['protocol'] as const,
    buckets: [...DELIVERY_LATENCY_BUCKETS],
    registers,
    collect: latencyPending.flush,
  });
  const backpressureDropped = new Counter({
    name: `${prefix}backpressure_dropped_total`,
    help: "Messages not written (dropped or conflated) because the client's output buffer was over its bound.",
    labelNames: ['protocol'] as const,
    registers,
  });
  const backpressureDisconnects = new Counter({
    name: `${prefix}backpressure_disconnects_total`,
    help: "Connections closed because the client's output buffer stayed over its bound.",
    labelNames: ['protocol'] as const,
    registers,
  });
  const clientErrors = new Counter({
    name: `${prefix}client_errors_total`,
    help: 'Error answers sent to clients, by protocol and error code.',
    labelNames: ['protocol', 'code'] as const,
    registers,
  });
  const busConnected = new Gauge({
    name: `${prefix}bus_connected`,
    help: 'Whether the message bus connection is up (1) or down (0).',
    registers,
  });
  const busReconnects = new Counter({
    name: `${prefix}bus_reconnects_total`,
    help: 'Reconnections to the message bus.',
    registers,
  });
  const busLag = new Gauge({
    name: `${prefix}bus_lag_seconds`,
    help:
      "Round trip of the node's bus probe in seconds: receive time minus the send time the probe carries, the largest among the probes back in the last BUS_PROBE_INTERVAL_MS (the last measured if none came back since). " +
      'Includes Redis, both connections and event-loop queueing before the receive callback runs. A probe still out counts only once it arrives: readiness, not this gauge, fails after BUS_MAX_LAG_MS without one.',
    registers,
  });
  const busProbeAge = new Gauge({
    name: `${prefix}bus_probe_age_seconds`,
    help: "Seconds since the node's last bus probe came back, read at each BUS_PROBE_INTERVAL_MS (about one interval when the bus is healthy): the readiness rule's input, not ready (bus_stalled) past BUS_MAX_LAG_MS.",
    registers,
  });
  const busMessagesPublished = new Counter({
    name: `${prefix}bus_messages_published_total`,
    help: 'Messages published to the bus, by kind (live, latest, history).',
    labelNames: ['kind'] as const,
    registers,
  });
  const pollsPending = new PendingCounts();
  const sourcePolls = new Counter({
    name: `${prefix}source_polls_total`,
    help: 'Polls of data sources, by source and result (changed, unchanged, error).',
    labelNames: ['source', 'result'] as const,
    registers,
    collect: pollsPending.flush,
  });
  const pollDurationPending = new PendingObservations();
  const sourcePollDuration = new Histogram({
    name: `${prefix}source_poll_duration_seconds`,
    help: 'Duration of data-source polls, by source.',
    labelNames: ['source'] as const,
    buckets: [...SOURCE_POLL_BUCKETS],
    registers,
    collect: pollDurationPending.flush,
  });
  const sourceErrors = new Counter({
    name: `${prefix}source_errors_total`,
    help: 'Data-source errors, by source and kind (auth, network, rate_limit, invalid_data, internal).',
    labelNames: ['source', 'kind'] as const,
    registers,
  });
  const sourceModes = new Gauge({
    name: `${prefix}source_mode_accounts`,
    help: 'Accounts (or feeds) of a data source by how their data arrives: pushed by the upstream stream, or polled.',
    labelNames: ['source', 'mode'] as const,
    registers,
  });
  const sourceStreamReconnects = new Counter({
    name: `${prefix}source_stream_reconnects_total`,
    help: 'Upstream streams of a data source connected again after a failure, by source.',
    labelNames: ['source'] as const,
    registers,
  });
  const sourceEventLatency = new Histogram({
    name: `${prefix}source_event_latency_seconds`,
    help: "Time from an upstream event's own timestamp to its publish on the bus, by source.",
    labelNames: ['source'] as const,
    buckets: [...DELIVERY_LATENCY_BUCKETS],
    registers,
  });
  const httpRequests = new Counter({
    name: `${prefix}http_requests_total`,
    help: 'HTTP requests answered, by route pattern and status code.',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  const stockFlushSlice = new Histogram({
    name: `${prefix}stock_flush_slice_seconds`,
    help:
      'How long each synchronous step of the stock interval flush held the event loop: spreading the changed stocks to the connections covering them, then writing those connections, each step bounded by STOCK_FLUSH_SLICE_MS (checked after each stock spread and every 32 connections written).',
    buckets: [...LOOP_BLOCK_BUCKETS],
    registers,
  });

  const connectionsOf = cache1((protocol) => connections.labels(protocol));
  const openedOf = cache1((protocol) => connectionsOpened.labels(protocol));
  const closedOf = cache2((protocol, code) => connectionsClosed.labels(protocol, code));
  const authFailureOf = cache2((protocol, reason) => authFailures.labels(protocol, reason));
  const sentOf = cache2((protocol, type) => sentPending.child(messagesSent.labels(protocol, type)));
  const receivedOf = cache2((protocol, type) => messagesReceived.labels(protocol, type));
  const subscriptionsOf = cache2((protocol, kind) => subscriptions.labels(protocol, kind));
  const latencyOf = cache1((protocol) => latencyPending.child(deliveryLatency, DELIVERY_LATENCY_BUCKETS, { protocol }));
  const droppedOf = cache1((protocol) => backpressureDropped.labels(protocol));
  const disconnectsOf = cache1((protocol) => backpressureDisconnects.labels(protocol));
  const clientErrorOf = cache2((protocol, code) => clientErrors.labels(protocol, code));
  const publishedOf = cache1((kind) => busMessagesPublished.labels(kind));
  const pollsOf = cache2((source, result) => pollsPending.child(sourcePolls.labels(source, result)));
  const pollDurationOf = cache1((source) => pollDurationPending.child(sourcePollDuration, SOURCE_POLL_BUCKETS, { source }));
  const sourceErrorOf = cache2((source, kind) => sourceErrors.labels(source, kind));
  const httpOf = cache2((route, status) => httpRequests.labels(route, status));

  // Zero series up front: a protocol nobody has used yet shows 0, not "no data", and rate() works from the start.
  for (const protocol of REALTIME_PROTOCOLS) {
    connectionsOf(protocol).set(0);
    openedOf(protocol).inc(0);
    droppedOf(protocol).inc(0);
    disconnectsOf(protocol).inc(0);
    latencyOf(protocol);
  }
  for (const kind of BUS_MESSAGE_KINDS) {
    publishedOf(kind).inc(0);
  }
  busConnected.set(0);
  busLag.set(0);
  busProbeAge.set(0);

  return {
    registry,
    connectionOpened(protocol: Protocol): void {
      openedOf(protocol).inc();
      connectionsOf(protocol).inc();
    },
    connectionClosed(protocol: Protocol, code?: number | string): void {
      connectionsOf(protocol).dec();
      if (code !== undefined) {
        closedOf(protocol, String(code)).inc();
      }
    },
    authFailure(protocol: Protocol, reason: string): void {
      authFailureOf(protocol, reason).inc();
    },
    messagesSent(protocol: Protocol, type: string, count = 1): void {
      if (positive(count)) {
        sentOf(protocol, type).add(count);
      }
    },
    messageReceived(protocol: Protocol, type: string): void {
      receivedOf(protocol, type).inc();
    },
    subscriptionAdded(protocol: Protocol, kind: string): void {
      subscriptionsOf(protocol, kind).inc();
    },
    subscriptionRemoved(protocol: Protocol, kind: string, count = 1): void {
      if (positive(count)) {
        subscriptionsOf(protocol, kind).dec(count);
      }
    },
    deliveryLatency(protocol: Protocol, seconds: number): void {
      // publishedAt comes from another process, maybe another host: clock skew can make the difference
      // negative, which is "as fast as we can measure", i.e. the first bucket, not a negative sum.
      if (Number.isFinite(seconds)) {
        latencyOf(protocol).observe(seconds > 0 ? seconds : 0);
      }
    },
    backpressureDropped(protocol: Protocol, count = 1): void {
      if (positive(count)) {
        droppedOf(protocol).inc(count);
      }
    },
    backpressureDisconnected(protocol: Protocol): void {
      disconnectsOf(protocol).inc();
    },
    clientError(protocol: Protocol, code: string): void {
      clientErrorOf(protocol, code).inc();
    },
    busConnected(connected: boolean): void {
      busConnected.set(connected ? 1 : 0);
    },
    busReconnected(): void {
      busReconnects.inc();
    },
    busLag(seconds: number): void {
      if (Number.isFinite(seconds)) {
        busLag.set(seconds > 0 ? seconds : 0);
      }
    },
    busProbeAge(seconds: number): void {
      if (Number.isFinite(seconds)) {
        busProbeAge.set(seconds > 0 ? seconds : 0);
      }
    },
    busMessagePublished(kind: BusMessageKind): void {
      publishedOf(kind).inc();
    },
    sourcePoll(source: string, result: PollResult, seconds: number): void {
      pollsOf(source, result).add(1);
      if (Number.isFinite(seconds) && seconds >= 0) {
        pollDurationOf(source).observe(seconds);
      }
    },
    sourceError(source: string, kind: string): void {
      sourceErrorOf(source, kind).inc();
    },
    httpRequest(route: string, status: number): void {
      httpOf(route, String(status)).inc();
    },
    sourceModeCount(source: string, mode: SourceMode, count: number): void {
      if (Number.isFinite(count) && count >= 0) {
        sourceModes.labels(source, mode).set(count);
      }
    },
    sourceStreamReconnected(source: string): void {
      sourceStreamReconnects.labels(source).inc();
    },
    stockFlushSlice(seconds: number): void {
      if (Number.isFinite(seconds) && seconds >= 0) {
        stockFlushSlice.observe(seconds);
      }
    },
    sourceEventLatency(source: string, seconds: number): void {
      // The event time comes from the upstream's clock: skew can make the difference negative (first bucket).
      if (Number.isFinite(seconds)) {
        sourceEventLatency.labels(source).observe(seconds > 0 ? seconds : 0);
      }
    },
  };
}
