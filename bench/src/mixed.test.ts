import { describe, expect, it } from 'vitest';
import { parseExposition } from './prometheus.js';
import { lagOf, perMinute, summarizeLag } from './scenarios/mixed.js';

describe('mixed scenario: event-loop lag over the window', () => {
  it('reads prom-client\'s delay figures of one scrape, and nothing when the gateway does not expose them', () => {
    const scrape = parseExposition(
      [
        '# TYPE nodejs_eventloop_lag_p50_seconds gauge',
        'nodejs_eventloop_lag_p50_seconds{node="gw-1"} 0.0101',
        'nodejs_eventloop_lag_p99_seconds{node="gw-1"} 0.0203',
        'nodejs_eventloop_lag_max_seconds{node="gw-1"} 0.05',
      ].join('\n'),
    );
    expect(lagOf(scrape)).toEqual({ p50S: 0.0101, p99S: 0.0203, maxS: 0.05 });
    expect(lagOf(parseExposition('gateway_connections{protocol="stock"} 3'))).toBeUndefined();
  });

  it('reads the laggiest process of a node of several (one series per process), not their sum', () => {
    const scrape = parseExposition(
      [
        'nodejs_eventloop_lag_p50_seconds{node="gw-1",process="loop-0"} 0.02',
        'nodejs_eventloop_lag_p50_seconds{node="gw-1",process="loop-1"} 0.03',
        'nodejs_eventloop_lag_p50_seconds{node="gw-1",process="sources"} 0.01',
        'nodejs_eventloop_lag_p99_seconds{node="gw-1",process="loop-0"} 0.2',
        'nodejs_eventloop_lag_p99_seconds{node="gw-1",process="loop-1"} 0.1',
        'nodejs_eventloop_lag_p99_seconds{node="gw-1",process="sources"} 0.05',
        'nodejs_eventloop_lag_max_seconds{node="gw-1",process="loop-0"} 0.3',
        'nodejs_eventloop_lag_max_seconds{node="gw-1",process="loop-1"} 0.4',
        'nodejs_eventloop_lag_max_seconds{node="gw-1",process="sources"} 0.1',
      ].join('\n'),
    );
    expect(lagOf(scrape)).toEqual({ p50S: 0.03, p99S: 0.2, maxS: 0.4, p99Process: 'loop-0', maxProcess: 'loop-1' });
  });

  it('takes the median of the intervals\' p50, the worst p99 and the largest max, with the processes they came from', () => {
    const intervals = [
      { p50S: 0.01, p99S: 0.02, maxS: 0.03, p99Process: 'loop-1', maxProcess: 'loop-1' },
      { p50S: 0.014, p99S: 0.09, maxS: 0.2, p99Process: 'loop-0', maxProcess: 'sources' },
      { p50S: 0.012, p99S: 0.03, maxS: 0.04, p99Process: 'loop-1', maxProcess: 'loop-0' },
    ];
    const summary = summarizeLag(intervals);
    expect(summary?.p50Ms).toBeCloseTo(12);
    expect(summary?.p99Ms).toBeCloseTo(90);
    expect(summary?.maxMs).toBeCloseTo(200);
    expect(summary?.intervals).toBe(3);
    expect(summary).toMatchObject({ p99Process: 'loop-0', maxProcess: 'sources' });
    expect(summarizeLag([{ p50S: 0.01, p99S: 0.02, maxS: 0.03 }])).not.toHaveProperty('maxProcess');
    expect(summarizeLag(intervals.slice(0, 2))?.p50Ms).toBeCloseTo(12);
    expect(summarizeLag([])).toBeUndefined();
  });

  it('scales a window\'s count to a minute', () => {
    expect(perMinute(10, 10)).toBe(60);
    expect(perMinute(59, 60)).toBe(59);
    expect(perMinute(5, 0)).toBe(0);
  });
});
