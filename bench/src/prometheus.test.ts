import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createPromMetrics } from '@gw/metrics';
import { histogramDelta, parseExposition, sumOf } from './prometheus.js';

/** A real gateway metrics registry, so the reader is checked against what the gateway actually serves. */
function gatewayMetrics(): { metrics: ReturnType<typeof createPromMetrics>; text: () => Promise<string> } {
  const registry = new Registry();
  const metrics = createPromMetrics({ registry, labels: { node: 'bench-test' }, collectDefaultMetrics: false });
  return { metrics, text: () => registry.metrics() };
}

describe('reading the gateway metrics exposition', () => {
  it('sums counters by label, with exact values and predicates', async () => {
    const { metrics, text } = gatewayMetrics();
    metrics.messagesSent('socketio', 'balance_update', 3);
    metrics.messagesSent('socketio', 'pnl_update', 4);
    metrics.messagesSent('socketio', 'subscribed', 100);
    metrics.messagesSent('stock', 'price_update', 7);
    const samples = parseExposition(await text());
    expect(sumOf(samples, 'gateway_messages_sent_total', { protocol: 'socketio', type: (t) => t.endsWith('_update') })).toBe(7);
    expect(sumOf(samples, 'gateway_messages_sent_total', { protocol: 'stock', type: 'price_update' })).toBe(7);
    expect(sumOf(samples, 'gateway_messages_sent_total')).toBe(114);
    expect(sumOf(samples, 'gateway_no_such_metric')).toBe(0);
  });

  it('takes quantiles of what a histogram observed between two scrapes only', async () => {
    const { metrics, text } = gatewayMetrics();
    for (let i = 0; i < 50; i += 1) {
      metrics.deliveryLatency('socketio', 2); // before the window: must not count
    }
    const before = parseExposition(await text());
    for (let i = 0; i < 99; i += 1) {
      metrics.deliveryLatency('socketio', 0.0007); // bucket (0.0005, 0.001]
    }
    metrics.deliveryLatency('socketio', 0.04); // bucket (0.025, 0.05]
    const after = parseExposition(await text());
    const delta = histogramDelta(before, after, 'gateway_delivery_latency_seconds', { protocol: 'socketio' });
    expect(delta.count).toBe(100);
    const p50 = delta.quantile(0.5) ?? NaN;
    expect(p50).toBeGreaterThan(0.0005);
    expect(p50).toBeLessThanOrEqual(0.001);
    expect(delta.quantile(0.99)).toBeLessThanOrEqual(0.001);
    expect(delta.quantile(1)).toBeGreaterThan(0.025);
    expect(delta.maxBound()).toBe(0.05);
    expect(histogramDelta(after, after, 'gateway_delivery_latency_seconds', { protocol: 'socketio' }).quantile(0.5)).toBeUndefined();
  });

  it('skips comments and lines that are not samples, and unescapes label values', () => {
    const samples = parseExposition('# HELP x y\n# TYPE x counter\nx{a="q\\"uote",b="2"} 5\nnot a sample line\n\ny 1.5e3\n');
    expect(samples).toEqual([
      { name: 'x', labels: { a: 'q"uote', b: '2' }, value: 5 },
      { name: 'y', labels: {}, value: 1500 },
    ]);
  });
});
