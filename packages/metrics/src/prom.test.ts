import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  DELIVERY_LATENCY_BUCKETS,
  REALTIME_PROTOCOLS,
  createPromMetrics,
  noopMetrics,
  renderMetrics,
} from './index.js';
import type { GatewayMetrics } from './index.js';
import { histogramSeries, parseExposition } from './testing/exposition.js';
import type { Family, MetricType } from './testing/exposition.js';

/** The contracted set (docs/contract.md section 6, and the source stream series): name without prefix, type, label names. */
const EXPECTED: readonly (readonly [string, MetricType, readonly string[]])[] = [
  ['connections', 'gauge', ['protocol']],
  ['connections_opened_total', 'counter', ['protocol']],
  ['connections_closed_total', 'counter', ['code', 'protocol']],
  ['auth_failures_total', 'counter', ['protocol', 'reason']],
  ['messages_sent_total', 'counter', ['protocol', 'type']],
  ['messages_received_total', 'counter', ['protocol', 'type']],
  ['subscriptions', 'gauge', ['kind', 'protocol']],
  ['delivery_latency_seconds', 'histogram', ['protocol']],
  ['backpressure_dropped_total', 'counter', ['protocol']],
  ['backpressure_disconnects_total', 'counter', ['protocol']],
  ['client_errors_total', 'counter', ['code', 'protocol']],
  ['bus_connected', 'gauge', []],
  ['bus_reconnects_total', 'counter', []],
  ['bus_lag_seconds', 'gauge', []],
  ['bus_probe_age_seconds', 'gauge', []],
  ['bus_messages_published_total', 'counter', ['kind']],
  ['source_polls_total', 'counter', ['result', 'source']],
  ['source_poll_duration_seconds', 'histogram', ['source']],
  ['source_errors_total', 'counter', ['kind', 'source']],
  ['source_mode_accounts', 'gauge', ['mode', 'source']],
  ['source_stream_reconnects_total', 'counter', ['source']],
  ['source_event_latency_seconds', 'histogram', ['source']],
  ['http_requests_total', 'counter', ['route', 'status']],
  ['stock_flush_slice_seconds', 'histogram', []],
];

/** Fresh metrics on a fresh registry; process metrics off unless a test is about them, to keep scrapes small. */
function fresh(options: { prefix?: string; collectDefaultMetrics?: boolean; labels?: Record<string, string> } = {}) {
  return createPromMetrics({ registry: new Registry(), collectDefaultMetrics: false, ...options });
}

async function scrape(metrics: GatewayMetrics): Promise<Map<string, Family>> {
  return parseExposition((await renderMetrics(metrics)).body);
}

function family(families: Map<string, Family>, name: string): Family {
  const found = families.get(name);
  if (found === undefined) {
    throw new Error(`no metric family ${name}`);
  }
  return found;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined if there is none. */
function value(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const samples = [...families.values()]
    .flatMap((f) => f.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (samples.length > 1) {
    throw new Error(`${samples.length} samples of ${name} match ${JSON.stringify(labels)}`);
  }
  return samples[0]?.value;
}

/** Calls every domain method once, so that series without pre-created labels exist too. */
function touchAll(m: GatewayMetrics): void {
  m.connectionOpened('stock');
  m.connectionClosed('stock', 1001);
  m.authFailure('stock', 'expired');
  m.messagesSent('stock', 'quote');
  m.messageReceived('stock', 'subscribe');
  m.subscriptionAdded('stock', 'symbol');
  m.deliveryLatency('stock', 0.01);
  m.backpressureDropped('stock');
  m.backpressureDisconnected('stock');
  m.clientError('stock', 'BAD_REQUEST');
  m.busConnected(true);
  m.busReconnected();
  m.busLag(1);
  m.busProbeAge(0.5);
  m.busMessagePublished('live');
  m.sourcePoll('quotes', 'changed', 0.2);
  m.sourceError('quotes', 'network');
  m.sourceModeCount('quotes', 'stream', 1);
  m.sourceStreamReconnected('quotes');
  m.sourceEventLatency('quotes', 0.05);
  m.httpRequest('/v1/latest/:symbol', 200);
  m.stockFlushSlice(0.004);
}

describe('createPromMetrics exposition', () => {
  it('exposes exactly the contracted set, each with its type, help and label names', async () => {
    const m = fresh();
    touchAll(m);
    const families = await scrape(m);

    expect([...families.keys()].sort()).toEqual(EXPECTED.map(([name]) => `gateway_${name}`).sort());
    for (const [name, type, labelNames] of EXPECTED) {
      const f = family(families, `gateway_${name}`);
      expect(f.type, f.name).toBe(type);
      expect(f.help, f.name).not.toBe('');
      expect(f.samples.length, f.name).toBeGreaterThan(0);
      for (const sample of f.samples) {
        const names = Object.keys(sample.labels)
          .filter((l) => l !== 'le')
          .sort();
        expect(names, sample.name).toEqual(labelNames);
      }
    }
  });

  it('follows the naming conventions: _total on counters only, base units', async () => {
    const families = await scrape(fresh());
    for (const f of families.values()) {
      expect(f.name.endsWith('_total'), f.name).toBe(f.type === 'counter');
      expect(f.name).not.toMatch(/_(ms|milliseconds|kb|mb)(_|$)/);
    }
  });

  it('creates the series known in advance at zero', async () => {
    const families = await scrape(fresh());
    for (const protocol of REALTIME_PROTOCOLS) {
      expect(value(families, 'gateway_connections', { protocol })).toBe(0);
      expect(value(families, 'gateway_connections_opened_total', { protocol })).toBe(0);
      expect(value(families, 'gateway_backpressure_dropped_total', { protocol })).toBe(0);
      expect(value(families, 'gateway_backpressure_disconnects_total', { protocol })).toBe(0);
      expect(value(families, 'gateway_delivery_latency_seconds_count', { protocol })).toBe(0);
    }
    for (const kind of ['live', 'latest', 'history']) {
      expect(value(families, 'gateway_bus_messages_published_total', { kind })).toBe(0);
    }
    expect(value(families, 'gateway_bus_connected')).toBe(0);
    expect(value(families, 'gateway_bus_reconnects_total')).toBe(0);
    expect(value(families, 'gateway_bus_lag_seconds')).toBe(0);
  });

  it('adds the Node process metrics under their standard unprefixed names, and the default labels everywhere', async () => {
    const m = createPromMetrics({ registry: new Registry(), labels: { node: 'gw-1', role: 'gateway' } });
    touchAll(m);
    const families = await scrape(m);

    for (const f of families.values()) {
      expect(f.name, f.name).toMatch(/^(gateway|process|nodejs)_/);
      for (const sample of f.samples) {
        expect(sample.labels, sample.name).toMatchObject({ node: 'gw-1', role: 'gateway' });
      }
    }
    expect(family(families, 'process_cpu_seconds_total').type).toBe('counter');
    expect(family(families, 'process_start_time_seconds').type).toBe('gauge');
    expect(family(families, 'nodejs_heap_size_used_bytes').type).toBe('gauge');
    expect(family(families, 'nodejs_eventloop_lag_seconds').type).toBe('gauge');
    expect(family(families, 'nodejs_gc_duration_seconds').type).toBe('histogram');
    expect([...families.keys()].filter((name) => /^gateway_(process|nodejs)_/.test(name))).toEqual([]);
    for (const [name] of EXPECTED) {
      expect(families.has(`gateway_${name}`), name).toBe(true);
    }
  });

  it('uses a custom prefix on every gateway metric; the Node process metrics keep their standard names', async () => {
    const m = createPromMetrics({ registry: new Registry(), prefix: 'edge_' });
    touchAll(m);
    const families = await scrape(m);
    for (const name of families.keys()) {
      expect(name).toMatch(/^(edge|process|nodejs)_/);
    }
    expect(families.has('process_cpu_seconds_total')).toBe(true);
    for (const [name] of EXPECTED) {
      expect(families.has(`edge_${name}`), name).toBe(true);
    }
  });

  it('agrees with parse-prometheus-text-format on names, types and counter/gauge samples', async () => {
    const m = createPromMetrics({ registry: new Registry(), labels: { node: 'gw-1' } });
    touchAll(m);
    m.messagesSent('signals', 'buy', 1000);
    const body = (await renderMetrics(m)).body;
    const ours = parseExposition(body);
    const theirs = parsePrometheusTextFormat(body);

    expect(theirs.map((f) => f.name)).toEqual([...ours.keys()]);
    for (const f of theirs) {
      const mine = family(ours, f.name);
      expect(f.type, f.name).toBe(mine.type.toUpperCase());
      expect(f.help, f.name).toBe(mine.help);
      // The library folds labelled histogram series into one entry, so only plain samples are compared.
      if (f.type === 'COUNTER' || f.type === 'GAUGE') {
        expect(
          f.metrics.map((s) => ({ labels: s.labels ?? {}, value: Number(s.value) })),
          f.name,
        ).toEqual(mine.samples.map((s) => ({ labels: s.labels, value: s.value })));
      }
    }
  });

  it('keeps two instances on two registries apart', async () => {
    const a = fresh();
    const b = fresh();
    a.messagesSent('stock', 'quote', 5);
    b.messagesSent('stock', 'quote', 7);
    b.connectionOpened('signals');

    const fa = await scrape(a);
    const fb = await scrape(b);
    expect(value(fa, 'gateway_messages_sent_total', { protocol: 'stock', type: 'quote' })).toBe(5);
    expect(value(fb, 'gateway_messages_sent_total', { protocol: 'stock', type: 'quote' })).toBe(7);
    expect(value(fa, 'gateway_connections', { protocol: 'signals' })).toBe(0);
    expect(value(fb, 'gateway_connections', { protocol: 'signals' })).toBe(1);
  });

  it('refuses a second instance of the same prefix on one registry, and leaves the global registry alone', async () => {
    const { register } = await import('prom-client');
    const before = (await register.getMetricsAsJSON()).length;
    const registry = new Registry();
    createPromMetrics({ registry, collectDefaultMetrics: false });
    expect(() => createPromMetrics({ registry, collectDefaultMetrics: false })).toThrow(/already been registered/);
    expect((await register.getMetricsAsJSON()).length).toBe(before);
  });
});

describe('createPromMetrics domain methods', () => {
  it('messagesSent adds its count (one call per fan-out)', async () => {
    const m = fresh();
    m.messagesSent('signals', 'buy', 1000);
    m.messagesSent('signals', 'buy', 24);
    m.messagesSent('signals', 'sell');
    const families = await scrape(m);
    expect(value(families, 'gateway_messages_sent_total', { protocol: 'signals', type: 'buy' })).toBe(1024);
    expect(value(families, 'gateway_messages_sent_total', { protocol: 'signals', type: 'sell' })).toBe(1);
    expect(value(families, 'gateway_messages_sent_total', { protocol: 'stock', type: 'buy' })).toBeUndefined();
  });

  it('connectionOpened and connectionClosed move the gauge; opened only counts up', async () => {
    const m = fresh();
    m.connectionOpened('socketio');
    m.connectionOpened('socketio');
    m.connectionOpened('socketio');
    m.connectionClosed('socketio');
    const families = await scrape(m);
    expect(value(families, 'gateway_connections', { protocol: 'socketio' })).toBe(2);
    expect(value(families, 'gateway_connections_opened_total', { protocol: 'socketio' })).toBe(3);
    expect(value(families, 'gateway_connections', { protocol: 'stock' })).toBe(0);
  });

  it('deliveryLatency lands in the right bucket, cumulatively', async () => {
    const m = fresh();
    m.deliveryLatency('stock', 0.003); // above 2.5 ms, within 5 ms
    m.deliveryLatency('stock', 0.0004); // first bucket
    m.deliveryLatency('stock', 7); // beyond the last bound: +Inf only
    const families = await scrape(m);
    const series = histogramSeries(family(families, 'gateway_delivery_latency_seconds'));
    const stock = series.find((s) => s.labels['protocol'] === 'stock')!;

    expect([...stock.buckets.keys()]).toEqual([...DELIVERY_LATENCY_BUCKETS, Number.POSITIVE_INFINITY]);
    expect(stock.buckets.get(0.0005)).toBe(1);
    expect(stock.buckets.get(0.0025)).toBe(1);
    expect(stock.buckets.get(0.005)).toBe(2);
    expect(stock.buckets.get(5)).toBe(2);
    expect(stock.buckets.get(Number.POSITIVE_INFINITY)).toBe(3);
    expect(stock.count).toBe(3);
    expect(stock.sum).toBeCloseTo(7.0034, 10);
    expect(series.find((s) => s.labels['protocol'] === 'signals')!.count).toBe(0);
  });

  it('deliveryLatency observations between reads add up exactly (counted locally, handed over at each read)', async () => {
    const m = fresh();
    m.deliveryLatency('socketio', 0.002);
    m.deliveryLatency('socketio', 0.02);
    const first = histogramSeries(family(await scrape(m), 'gateway_delivery_latency_seconds')).find((s) => s.labels['protocol'] === 'socketio')!;
    expect(first.count).toBe(2);
    m.deliveryLatency('socketio', 0.002);
    const second = histogramSeries(family(await scrape(m), 'gateway_delivery_latency_seconds')).find((s) => s.labels['protocol'] === 'socketio')!;
    const third = histogramSeries(family(await scrape(m), 'gateway_delivery_latency_seconds')).find((s) => s.labels['protocol'] === 'socketio')!;
    for (const series of [second, third]) {
      expect(series.count).toBe(3);
      expect(series.buckets.get(0.0025)).toBe(2);
      expect(series.buckets.get(0.025)).toBe(3);
      expect(series.sum).toBeCloseTo(0.024, 10);
    }
  });

  it('deliveryLatency counts a negative difference (clock skew) as zero and ignores NaN', async () => {
    const m = fresh();
    m.deliveryLatency('signals', -0.2);
    m.deliveryLatency('signals', Number.NaN);
    const families = await scrape(m);
    const signals = histogramSeries(family(families, 'gateway_delivery_latency_seconds')).find(
      (s) => s.labels['protocol'] === 'signals',
    )!;
    expect(signals.count).toBe(1);
    expect(signals.sum).toBe(0);
    expect(signals.buckets.get(0.0005)).toBe(1);
  });

  it('subscriptions go up by one and down by count', async () => {
    const m = fresh();
    for (let i = 0; i < 5; i++) {
      m.subscriptionAdded('stock', 'symbol');
    }
    m.subscriptionAdded('stock', 'list');
    m.subscriptionRemoved('stock', 'symbol', 3);
    m.subscriptionRemoved('stock', 'list');
    const families = await scrape(m);
    expect(value(families, 'gateway_subscriptions', { protocol: 'stock', kind: 'symbol' })).toBe(2);
    expect(value(families, 'gateway_subscriptions', { protocol: 'stock', kind: 'list' })).toBe(0);
  });

  it('counts auth failures, received messages, client errors and backpressure', async () => {
    const m = fresh();
    m.authFailure('signals', 'expired');
    m.authFailure('signals', 'expired');
    m.authFailure('http', 'invalid_signature');
    m.messageReceived('socketio', 'subscribe');
    m.clientError('stock', 'LIMIT_EXCEEDED');
    m.backpressureDropped('socketio', 40);
    m.backpressureDropped('socketio');
    m.backpressureDisconnected('signals');
    const families = await scrape(m);
    expect(value(families, 'gateway_auth_failures_total', { protocol: 'signals', reason: 'expired' })).toBe(2);
    expect(value(families, 'gateway_auth_failures_total', { protocol: 'http', reason: 'invalid_signature' })).toBe(1);
    expect(value(families, 'gateway_messages_received_total', { protocol: 'socketio', type: 'subscribe' })).toBe(1);
    expect(value(families, 'gateway_client_errors_total', { protocol: 'stock', code: 'LIMIT_EXCEEDED' })).toBe(1);
    expect(value(families, 'gateway_backpressure_dropped_total', { protocol: 'socketio' })).toBe(41);
    expect(value(families, 'gateway_backpressure_disconnects_total', { protocol: 'signals' })).toBe(1);
    expect(value(families, 'gateway_backpressure_disconnects_total', { protocol: 'socketio' })).toBe(0);
  });

  it('tracks the bus: connection state, reconnects, lag and published messages', async () => {
    const m = fresh();
    m.busConnected(true);
    let families = await scrape(m);
    expect(value(families, 'gateway_bus_connected')).toBe(1);

    m.busConnected(false);
    m.busReconnected();
    m.busReconnected();
    m.busLag(2.5);
    m.busMessagePublished('latest');
    m.busMessagePublished('latest');
    m.busMessagePublished('history');
    families = await scrape(m);
    expect(value(families, 'gateway_bus_connected')).toBe(0);
    expect(value(families, 'gateway_bus_reconnects_total')).toBe(2);
    expect(value(families, 'gateway_bus_lag_seconds')).toBe(2.5);
    expect(value(families, 'gateway_bus_messages_published_total', { kind: 'latest' })).toBe(2);
    expect(value(families, 'gateway_bus_messages_published_total', { kind: 'history' })).toBe(1);
    expect(value(families, 'gateway_bus_messages_published_total', { kind: 'live' })).toBe(0);
  });

  it('counts source polls by result and observes their duration by source', async () => {
    const m = fresh();
    m.sourcePoll('quotes', 'changed', 0.04);
    m.sourcePoll('quotes', 'unchanged', 0.02);
    m.sourcePoll('quotes', 'error', 12);
    m.sourceError('quotes', 'rate_limit');
    const families = await scrape(m);
    expect(value(families, 'gateway_source_polls_total', { source: 'quotes', result: 'changed' })).toBe(1);
    expect(value(families, 'gateway_source_polls_total', { source: 'quotes', result: 'error' })).toBe(1);
    expect(value(families, 'gateway_source_errors_total', { source: 'quotes', kind: 'rate_limit' })).toBe(1);
    const [quotes] = histogramSeries(family(families, 'gateway_source_poll_duration_seconds'));
    expect(quotes!.labels).toEqual({ source: 'quotes' });
    expect(quotes!.count).toBe(3);
    expect(quotes!.buckets.get(0.025)).toBe(1);
    expect(quotes!.buckets.get(0.05)).toBe(2);
    expect(quotes!.buckets.get(10)).toBe(2);
    expect(quotes!.buckets.get(30)).toBe(3);
    expect(quotes!.sum).toBeCloseTo(12.06, 10);
  });

  it('counts HTTP requests by route pattern and status', async () => {
    const m = fresh();
    m.httpRequest('/v1/latest/:symbol', 200);
    m.httpRequest('/v1/latest/:symbol', 200);
    m.httpRequest('/v1/latest/:symbol', 404);
    const families = await scrape(m);
    expect(value(families, 'gateway_http_requests_total', { route: '/v1/latest/:symbol', status: '200' })).toBe(2);
    expect(value(families, 'gateway_http_requests_total', { route: '/v1/latest/:symbol', status: '404' })).toBe(1);
  });

  it('keeps label pairs apart in its child cache', async () => {
    const m = fresh();
    m.sourceError('a', 'bc');
    m.sourceError('ab', 'c');
    m.sourceError('ab', 'c');
    const families = await scrape(m);
    expect(value(families, 'gateway_source_errors_total', { source: 'a', kind: 'bc' })).toBe(1);
    expect(value(families, 'gateway_source_errors_total', { source: 'ab', kind: 'c' })).toBe(2);
  });

  it('never throws on bad counts from a caller; it ignores them', async () => {
    const m = fresh();
    expect(() => {
      m.messagesSent('stock', 'quote', -1);
      m.messagesSent('stock', 'quote', Number.NaN);
      m.messagesSent('stock', 'quote', Number.POSITIVE_INFINITY);
      m.backpressureDropped('stock', -3);
      m.subscriptionRemoved('stock', 'symbol', Number.NaN);
      m.busLag(Number.NaN);
      m.sourcePoll('quotes', 'changed', Number.NaN);
    }).not.toThrow();
    const families = await scrape(m);
    expect(value(families, 'gateway_messages_sent_total', { protocol: 'stock', type: 'quote' })).toBeUndefined();
    expect(value(families, 'gateway_backpressure_dropped_total', { protocol: 'stock' })).toBe(0);
    expect(value(families, 'gateway_bus_lag_seconds')).toBe(0);
    expect(value(families, 'gateway_source_polls_total', { source: 'quotes', result: 'changed' })).toBe(1);
    expect(value(families, 'gateway_source_poll_duration_seconds_count', { source: 'quotes' })).toBeUndefined();
  });
});

describe('renderMetrics', () => {
  it("answers the registry's exposition with its content type", async () => {
    const m = fresh();
    const rendered = await renderMetrics(m);
    expect(rendered.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(rendered.body).toContain('# TYPE gateway_connections gauge');
  });

  it('answers an empty exposition for noopMetrics, whose methods all do nothing', async () => {
    expect(noopMetrics.registry).toBeUndefined();
    touchAll(noopMetrics);
    noopMetrics.connectionClosed('stock');
    noopMetrics.subscriptionRemoved('stock', 'symbol', 2);
    const rendered = await renderMetrics(noopMetrics);
    expect(rendered).toEqual({ contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: '' });
    expect(parseExposition(rendered.body).size).toBe(0);
  });
});
